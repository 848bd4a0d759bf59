"""Library subcommands: list, info, import, remove, rescan, scan-stores."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_wrangler.cli.context import CliContext, open_library
from llama_wrangler.errors import WranglerError
from llama_wrangler.library.gguf import format_parameter_count
from llama_wrangler.library.origins import origin_rows
from llama_wrangler.library.registry import ModelRecord
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.services.import_work import import_work
from llama_wrangler.settings import ImportMode
from llama_wrangler.units import human_bytes


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands."""
    p = subparsers.add_parser("list", help="list the models in the library")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_list)

    p = subparsers.add_parser("info", help="show everything known about a model")
    p.add_argument("model", help="model id, name, unique id prefix, or file path")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--hash", action="store_true", help="compute the sha256 now if it is not known yet")
    p.set_defaults(handler=cmd_info)

    p = subparsers.add_parser("import", help="add GGUF files or folders to the library")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--mode", choices=[m.value for m in ImportMode],
                   help="copy, move, hardlink, or link (use in place); default from the settings")
    p.add_argument("--no-hash", action="store_true", help="skip computing sha256 now")
    p.set_defaults(handler=cmd_import)

    p = subparsers.add_parser("remove", help="remove a model from the library")
    p.add_argument("model")
    p.add_argument("--delete-file", action="store_true",
                   help="also delete its files (only files in the app's models folder)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=cmd_remove)

    p = subparsers.add_parser("rescan", help="find added, changed and vanished model files")
    p.add_argument("--hash", action="store_true", help="also compute missing sha256 sums now")
    p.set_defaults(handler=cmd_rescan)

    p = subparsers.add_parser("scan-stores",
                              help="link models from the Hugging Face cache, Ollama and LM Studio in place")
    p.add_argument("--dry-run", action="store_true", help="only list what would be linked")
    p.set_defaults(handler=cmd_scan_stores)


def _source_label(record: ModelRecord) -> str:
    label = record.source if record.owned else f"{record.source} (linked)"
    return f"{label} MISSING" if record.missing else label


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace, context: CliContext) -> int:
    records = open_library(context).models()
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return 0
    if not records:
        print("The library is empty. Add a model with `llama-wrangler import PATH`.")
        return 0
    rows = [[r.id, r.name, r.info.architecture or "?", r.info.parameter_label, r.info.quant or "?",
             human_bytes(r.size_bytes), str(r.info.context_length or "?"), _source_label(r)] for r in records]
    print(table(["ID", "NAME", "ARCH", "PARAMS", "QUANT", "SIZE", "CTX", "SOURCE"], rows))
    return 0


def describe(record: ModelRecord) -> list[tuple[str, str]]:
    info = record.info
    split = f"{info.split_count} files" if info.split_count > 1 else "no"
    lines = [
        ("id", record.id), ("name", record.name),
        *(("file" if len(record.paths) == 1 else f"file {i}", str(p)) for i, p in enumerate(record.paths, 1)),
        ("size", f"{human_bytes(record.size_bytes)} ({record.size_bytes} bytes)"),
        ("sha256", record.sha256 or "not computed yet (`llama-wrangler info --hash MODEL`)"),
        ("source", record.source.value), ("owned", "yes (in the models folder)" if record.owned else "no (linked)"),
        ("missing", "yes — the file is gone" if record.missing else "no"), ("added", record.added_at),
        *((f"origin.{k}", v) for k, v in sorted(origin_rows(record.origin))),
        ("architecture", info.architecture or "?"), ("model name", info.name or "?"),
        ("parameters", f"{format_parameter_count(info.parameter_count)} ({info.parameter_count})"),
        ("size label", info.size_label or "-"), ("quant", info.quant or "?"),
        ("file type", "-" if info.file_type is None else str(info.file_type)),
        ("context length", str(info.context_length or "?")), ("layers", str(info.block_count or "?")),
        ("embedding", str(info.embedding_length or "?")), ("heads", str(info.head_count or "?")),
        ("kv heads", str(info.head_count_kv or "?")), ("vocabulary", str(info.vocab_size or "?")),
        ("tensors", str(info.tensor_count)), ("chat template", "yes" if info.has_chat_template else "no"),
        ("split", split), ("gguf version", str(info.version)), ("alignment", str(info.alignment)),
        ("header size", f"{info.header_size} bytes"), ("metadata keys", str(info.kv_count)),
    ]
    for key, value in sorted(info.metadata.items()):
        lines.append((f"  {key}", _short(value)))
    for key, length in sorted(info.value_lengths.items()):
        if key not in info.metadata:
            lines.append((f"  {key}", f"<{length} entries/bytes, not loaded>"))
    return lines


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def cmd_info(args: argparse.Namespace, context: CliContext) -> int:
    library = open_library(context)
    record = library.get(args.model)
    if args.hash and record.sha256 is None and not record.missing:
        record = library.compute_hash(record.id)
    if args.json:
        print(json.dumps(record.to_dict(), indent=2))
        return 0
    lines = describe(record)
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key.ljust(width)}  {value}")
    return 0


def cmd_import(args: argparse.Namespace, context: CliContext) -> int:
    library = open_library(context)
    mode = ImportMode(args.mode) if args.mode else context.settings.library.import_mode
    work = import_work(library, args.paths, mode)  # the same work the window runs as a job
    records = work.run(_terminal_progress(), CancelToken())
    for record in records:
        if not args.no_hash:
            record = library.compute_hash(record.id)
        how = "linked in place" if not record.owned else f"{mode.value} → {record.path}"
        print(f"Imported {record.id} ({record.info.architecture or '?'}, {record.info.parameter_label}, "
              f"{record.info.quant or '?'}, {human_bytes(record.size_bytes)}; {how})")
    return 0


def _terminal_progress() -> ProgressCallback:
    """A one-line percentage on stderr while copying, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return ignore_progress
    last: list[int] = [-1]

    def show(progress: Progress) -> None:
        percent = int((progress.fraction or 0) * 100)
        if percent != last[0]:
            last[0] = percent
            end = "\n" if percent == 100 else ""
            print(f"\r{progress.message}: {percent}%", end=end, file=sys.stderr, flush=True)

    return show


def _confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def cmd_remove(args: argparse.Namespace, context: CliContext) -> int:
    library = open_library(context)
    record = library.get(args.model)
    if args.delete_file and not record.owned:
        # Checked before asking: the answer could not change it.
        library.remove(record.id, delete_file=True)
    what = (f"Remove {record.id} and delete {len(record.paths)} file(s), {human_bytes(record.size_bytes)}?"
            if args.delete_file else f"Remove {record.id} from the library (the file stays)?")
    if not args.yes:
        if not sys.stdin.isatty():
            raise WranglerError(f"Not removing {record.id}: confirmation needed.",
                                hint="Run it in a terminal, or add --yes.")
        if not _confirm(what):
            print("Nothing removed.")
            return 1
    library.remove(record.id, delete_file=args.delete_file)
    print(f"Removed {record.id}" + (" and deleted its files." if args.delete_file else "."))
    return 0


def cmd_rescan(args: argparse.Namespace, context: CliContext) -> int:
    library = open_library(context)
    report = library.rescan()
    for label, ids in (("added", report.added), ("changed", report.changed), ("vanished", report.vanished)):
        for model_id in ids:
            print(f"{label}: {model_id}")
    for error in report.errors:
        print(f"llama-wrangler: warning: {error}", file=sys.stderr)
    if args.hash:
        for record in library.models():
            if record.sha256 is None and not record.missing:
                library.compute_hash(record.id)
    print(report.summary())
    return 0


def cmd_scan_stores(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.library.discovery import discover_all, link_found

    library = open_library(context)
    found = discover_all()
    if args.dry_run:
        for item in found:
            print(f"{item.source}: {item.name} ({item.files[0]})")
        print(f"{len(found)} models found.")
        return 0
    linked, problems = link_found(library, found)
    for record in linked:
        print(f"linked: {record.id} ({record.source}, {record.path})")
    for problem in problems:
        print(f"llama-wrangler: warning: {problem}", file=sys.stderr)
    print(f"{len(found)} models found in other stores, {len(linked)} newly linked"
          + (f", {len(problems)} unreadable." if problems else "."))
    return 0
