"""CLI: ``pull`` (Hugging Face GGUF downloads; Ollama names go to :mod:`.ollama_pull_cmd`), ``convert``,
``quantize`` and ``downloads``.

Runs the same :class:`~llama_wrangler.services.hub_work.HubWork` the window's jobs run, in the foreground,
with a progress bar on stderr.
Ctrl-C stops a download and keeps its partial file: running the same command again resumes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_wrangler.cli.context import CliContext, open_hub_work
from llama_wrangler.cli.foreground import pull_in_foreground, run_in_foreground
from llama_wrangler.errors import ModelNotFoundError, WranglerError
from llama_wrangler.units import human_bytes

if TYPE_CHECKING:
    from llama_wrangler.runtime.runtime_info import LlamaRuntime

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


# ---- handlers --------------------------------------------------------------------------------------------
def cmd_pull(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.cli.ollama_pull_cmd import cmd_pull_ollama
    from llama_wrangler.sources.hf_hub import HubAccess
    from llama_wrangler.sources.hf_input import parse_hf_input
    from llama_wrangler.sources.hf_pull import choose
    from llama_wrangler.sources.hf_repo import inspect_repo
    from llama_wrangler.sources.pull_input import ollama_request_for

    ollama = ollama_request_for(args.model)
    if ollama is not None:
        return cmd_pull_ollama(args, context, ollama)
    request = parse_hf_input(args.model)
    access = HubAccess.from_settings(context.settings.downloads)
    listing = inspect_repo(request, access, context=context.settings.server.context_size)
    if args.list:
        print(listing_text(listing))
        return 0
    choice = choose(listing, request)
    heading = (f"Downloading {choice.name} ({choice.quant}, {human_bytes(choice.size)}"
               f"{f', {len(choice.files)} files' if choice.is_split else ''}) from {listing.repo_id}")
    record = pull_in_foreground(context, open_hub_work(context).download(listing, choice), quiet=args.quiet,
                                heading=heading, total=choice.size,
                                ours=lambda partial: partial.repo_id == listing.repo_id)
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


def _checked_runtime(context: CliContext, quant: str, outtype: str) -> LlamaRuntime:
    """Fail before any download when the conversion tools are missing or the quant is unknown."""
    from llama_wrangler.convert.pipeline import ConvertOptions
    from llama_wrangler.runtime.locate import locate_runtime

    return ConvertOptions(locate_runtime(context.settings, context.paths), quant, outtype).checked().runtime


def cmd_convert(args: argparse.Namespace, context: CliContext) -> int:
    quant = args.quant or context.settings.downloads.default_quant
    runtime = _checked_runtime(context, quant, args.outtype)
    work = open_hub_work(context, runtime=runtime).convert(args.source, quant=quant, outtype=args.outtype)
    record = run_in_foreground(work, quiet=args.quiet)
    print(f"Added {record.id}: {record.path}")
    return 0


def cmd_quantize(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.library.origins import ConvertOrigin

    work_factory = open_hub_work(context)  # finds the runtime when the work starts, after the model
    try:
        record = work_factory.library.get(args.model)
        model, origin = record.path, ConvertOrigin(base=record.id)
    except ModelNotFoundError:
        model = Path(args.model).expanduser()
        if not model.is_file():
            raise
        origin = ConvertOrigin(base=str(model))
    record = run_in_foreground(work_factory.quantize(model, args.quant, origin=origin), quiet=args.quiet)
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
