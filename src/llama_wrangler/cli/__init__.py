"""The command line: every job the GUI does, without widgets.

Each ``cli/*_cmds.py`` module contributes subcommands through ``register(subparsers)``; a subcommand's
handler takes ``(args, context)`` and returns an exit status. Errors derived from :class:`WranglerError`
become one clear line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llama_wrangler import __version__
from llama_wrangler.cli import (
    configure_cmd,
    desktop_cmds,
    hf_cmds,
    library_cmds,
    pool_cmds,
    resident_cmds,
    runtime_cmds,
    search_cmd,
    serve_cmds,
)
from llama_wrangler.cli.context import CliContext
from llama_wrangler.errors import WranglerError

COMMAND_MODULES = (library_cmds, configure_cmd, runtime_cmds, serve_cmds, resident_cmds, pool_cmds, hf_cmds,
                   search_cmd, desktop_cmds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llama-wrangler",
        description="Find, download, convert, organise and serve local LLMs with llama.cpp. "
        "Run without arguments to open the app; `llama-wrangler open URL` opens it on a Hugging Face or "
        "Ollama page (or hands the page to the app already running).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def run_cli(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    context = CliContext.create()
    try:
        status: int = handler(args, context)
    except WranglerError as exc:
        print(f"llama-wrangler: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("llama-wrangler: interrupted", file=sys.stderr)
        return 130
    return status
