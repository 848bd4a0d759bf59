"""CLI: ``pull`` (Hugging Face GGUF downloads; Ollama names go to :mod:`.ollama_pull_cmd`), ``convert``,
``quantize`` and ``downloads``.

Runs the same core functions the GUI's jobs run, in the foreground, with a progress bar on stderr.
Ctrl-C stops a download and keeps its partial file: running the same command again resumes it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from llama_wrangler.cli.context import CliContext
from llama_wrangler.errors import ModelNotFoundError, WranglerError
from llama_wrangler.progress import Progress
from llama_wrangler.units import human_bytes

if TYPE_CHECKING:
    from llama_wrangler.library.records import ModelRecord
    from llama_wrangler.sources.partials import PartialDownload

QUANT_HELP = "F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, Q3_K_M or Q2_K"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands."""
    pull = subparsers.add_parser(
        "pull", help="download a GGUF model from Hugging Face or the Ollama registry",
        description="Download a GGUF from Hugging Face into the library. MODEL is hf:org/repo[:QUANT], "
        "hf:org/repo/path/file.gguf, org/repo, hf.co/org/repo:QUANT or a huggingface.co link. Without a "
        "quant the largest one that fits this machine is picked. Ollama models (no Ollama needed): "
        "ollama:NAME[:TAG], ollama:NAMESPACE/NAME:TAG, NAME:TAG or an ollama.com link. Ctrl-C keeps the "
        "partial file; run the same command again to resume.")
    pull.add_argument("model", metavar="MODEL")
    pull.add_argument("--list", action="store_true", help="show the quants (Ollama: the layers) and exit")
    pull.add_argument("--quiet", action="store_true", help="no progress bar")
    pull.set_defaults(handler=cmd_pull)

    convert = subparsers.add_parser(
        "convert", help="convert a safetensors model (folder or Hugging Face repo) to GGUF",
        description="Convert a Hugging Face model (a local folder with config.json and *.safetensors, or a "
        "repo on the Hub) to GGUF with llama.cpp's convert_hf_to_gguf.py, quantize it and add it to the "
        "library.")
    convert.add_argument("source", metavar="DIR|REPO")
    convert.add_argument("--quant", default=None, help=f"quant to make ({QUANT_HELP}; default from settings)")
    convert.add_argument("--outtype", default="f16", choices=("f16", "bf16"),
                         help="type of the intermediate GGUF (default f16)")
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(handler=cmd_convert)

    quantize = subparsers.add_parser(
        "quantize", help="make a quant from an F16/BF16 GGUF",
        description="Make another quant of an F16/BF16 model (a library id/name or a .gguf path) with "
        "llama-quantize and add it to the library.")
    quantize.add_argument("model", metavar="MODEL")
    quantize.add_argument("quant", metavar="TYPE", help=QUANT_HELP)
    quantize.add_argument("--quiet", action="store_true", help="no progress bar")
    quantize.set_defaults(handler=cmd_quantize)

    downloads = subparsers.add_parser(
        "downloads", help="list unfinished (resumable) downloads",
        description="List partial downloads kept for resuming; --discard ID deletes one.")
    downloads.add_argument("--discard", metavar="ID", help="delete a partial download")
    downloads.set_defaults(handler=cmd_downloads)


# ---- formatting ------------------------------------------------------------------------------------------
def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class ProgressBar:
    """A one-line bar on a terminal (``\\r`` updates); on a pipe, a line every 10 % or new stage."""

    WIDTH = 28

    def __init__(self, stream: TextIO = sys.stderr, *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self._last_draw = 0.0
        self._last_key: tuple[str, int] | None = None
        self._open_line = False

    def __call__(self, report: Progress) -> None:
        if self.quiet:
            return
        fraction = report.fraction
        if self.tty:
            now = time.monotonic()
            final = fraction is not None and fraction >= 1.0
            if now - self._last_draw < 0.1 and not final:
                return
            self._last_draw = now
            self.stream.write("\r" + self.render(report).ljust(100)[:120])
            self._open_line = True
        else:
            key = (report.stage, int((fraction or 0) * 10))
            if key == self._last_key:
                return
            self._last_key = key
            self.stream.write(self.render(report) + "\n")
        self.stream.flush()

    def render(self, report: Progress) -> str:
        fraction = report.fraction
        if fraction is None:
            return f"{report.stage}: {report.message}".rstrip(": ")
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        if report.stage == "download":
            detail = (f"{human_bytes(report.done)}/{human_bytes(report.total)}  "
                      f"{human_bytes(report.bytes_per_second or 0)}/s  ETA {duration_text(report.eta_seconds)}")
        else:
            detail = f"{report.done}/{report.total}"
        return f"{report.stage:<9}[{bar}] {fraction * 100:5.1f}%  {detail}  {report.message}"

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


def pull_in_foreground(context: CliContext, *, quiet: bool, heading: str, total: int,
                       ours: Callable[[PartialDownload], bool],
                       pull: Callable[[ProgressBar], ModelRecord]) -> ModelRecord | None:
    """Print ``heading`` and run ``pull`` with a progress bar on stderr. Ctrl-C stops it: say how much of
    ``total`` the partial downloads that ``ours`` picks keep for resuming, and return None."""
    from llama_wrangler.sources.partials import list_partials

    bar = ProgressBar(quiet=quiet)
    print(heading, file=sys.stderr)
    try:
        return pull(bar)
    except KeyboardInterrupt:
        bar.close()
        kept = sum(p.bytes_on_disk for p in list_partials(context.paths) if ours(p))
        print(f"Stopped. {human_bytes(kept)} of {human_bytes(total)} is kept; run the same command again "
              "to resume.", file=sys.stderr)
        return None
    finally:
        bar.close()


# ---- handlers --------------------------------------------------------------------------------------------
def _access(context: CliContext) -> Any:
    from llama_wrangler.sources.hf_hub import HubAccess

    return HubAccess.from_settings(context.settings.downloads)


def cmd_pull(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.cli.library_cmds import open_library
    from llama_wrangler.cli.ollama_pull_cmd import cmd_pull_ollama
    from llama_wrangler.sources.hf_input import parse_hf_input
    from llama_wrangler.sources.hf_pull import PullOptions, choose, pull_choice
    from llama_wrangler.sources.hf_repo import inspect_repo
    from llama_wrangler.sources.pull_input import ollama_request_for

    ollama = ollama_request_for(args.model)
    if ollama is not None:
        return cmd_pull_ollama(args, context, ollama)
    request = parse_hf_input(args.model)
    access = _access(context)
    context_size = context.settings.server.context_size
    listing = inspect_repo(request, access, context=context_size)
    if args.list:
        print(listing_text(listing))
        return 0
    choice = choose(listing, request)
    library = open_library(context)
    context.paths.ensure()
    options = PullOptions(access, retries=context.settings.downloads.retries, context=context_size)
    heading = (f"Downloading {choice.name} ({choice.quant}, {human_bytes(choice.size)}"
               f"{f', {len(choice.files)} files' if choice.is_split else ''}) from {listing.repo_id}")
    record = pull_in_foreground(
        context, quiet=args.quiet, heading=heading, total=choice.size,
        ours=lambda partial: partial.repo_id == listing.repo_id,
        pull=lambda bar: pull_choice(listing, choice, paths=context.paths, library=library, options=options,
                                     progress=bar))
    if record is None:
        return 130
    print(f"Added {record.id}: {record.path}")
    return 0


def listing_text(listing: Any) -> str:
    lines = [f"{listing.repo_id} @ {listing.revision} ({listing.commit[:12]})"]
    if listing.choices:
        lines.append(f"  {'QUANT':<12} {'SIZE':>10}  FILES")
        for choice in listing.choices:
            mark = "*" if choice == listing.recommended else " "
            files = f"{len(choice.files)} shards" if choice.is_split else choice.files[0].path
            lines.append(f"{mark} {choice.quant:<12} {human_bytes(choice.size):>10}  {files}")
        if listing.recommended is not None:
            lines.append("  (* = the largest that fits this machine's memory)")
        else:
            lines.append("  None of these fits this machine's memory by our estimate.")
    else:
        lines.append("  No GGUF files.")
    for projector in listing.projectors:
        lines.append(f"  projector: {projector.files[0].path} ({human_bytes(projector.size)})")
    if listing.convertible:
        lines.append(f"  safetensors weights ({human_bytes(listing.safetensors_size)}): "
                     f"llama-wrangler convert {listing.repo_id}")
    for name in listing.refused:
        lines.append(f"  refused unsafe file name: {name!r}")
    return "\n".join(lines)


def _runtime(context: CliContext) -> Any:
    from llama_wrangler.runtime.locate import locate_runtime

    return locate_runtime(context.settings, context.paths)


def cmd_convert(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.cli.library_cmds import open_library
    from llama_wrangler.convert.hf_snapshot import convert_repo
    from llama_wrangler.convert.pipeline import ConvertOptions, convert_folder
    from llama_wrangler.sources.hf_input import parse_hf_input

    options = ConvertOptions(_runtime(context), args.quant or context.settings.downloads.default_quant,
                             args.outtype).checked()
    library = open_library(context)
    context.paths.ensure()
    bar = ProgressBar(quiet=args.quiet)
    folder = Path(args.source).expanduser()
    try:
        if folder.is_dir():
            record = convert_folder(folder, options=options, paths=context.paths, library=library,
                                    progress=bar)
        else:
            record = convert_repo(parse_hf_input(args.source), access=_access(context), options=options,
                                  paths=context.paths, library=library,
                                  retries=context.settings.downloads.retries, progress=bar)
    finally:
        bar.close()
    print(f"Added {record.id}: {record.path}")
    return 0


def cmd_quantize(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.cli.library_cmds import open_library
    from llama_wrangler.convert.pipeline import requantize
    from llama_wrangler.library.origins import ConvertOrigin

    library = open_library(context)
    try:
        model = library.get(args.model).path
        origin = ConvertOrigin(base=library.get(args.model).id)
    except ModelNotFoundError:
        model = Path(args.model).expanduser()
        if not model.is_file():
            raise
        origin = ConvertOrigin(base=str(model))
    runtime = _runtime(context)
    bar = ProgressBar(quiet=args.quiet)
    try:
        record = requantize(model, args.quant, runtime=runtime, paths=context.paths, library=library,
                            origin=origin, progress=bar)
    finally:
        bar.close()
    print(f"Added {record.id}: {record.path}")
    return 0


def cmd_downloads(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.sources.partials import discard_partial, list_partials

    partials = list_partials(context.paths)
    if args.discard:
        matches = [p for p in partials if p.download_id.startswith(args.discard)]
        if len(matches) != 1:
            raise WranglerError(f"No single partial download matches {args.discard!r}.",
                                hint="Run `llama-wrangler downloads` to see their ids.")
        discard_partial(context.paths, matches[0].download_id)
        print(f"Deleted the partial download of {matches[0].file}.")
        return 0
    if not partials:
        print("No unfinished downloads.")
        return 0
    for partial in partials:
        percent = 100 * partial.bytes_on_disk / partial.size if partial.size else 0
        print(f"{partial.download_id[:12]}  {partial.repo_id}/{partial.file}  "
              f"{human_bytes(partial.bytes_on_disk)}/{human_bytes(partial.size)} ({percent:.0f}%)  "
              f"resume: llama-wrangler pull {partial.request_text}")
    return 0
