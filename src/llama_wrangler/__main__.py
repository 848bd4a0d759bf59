"""Entry point: no arguments opens the GUI; a subcommand runs the CLI (no display needed)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] == "open" or args[0].startswith("llama-wrangler:"):
        # Imported lazily so the CLI never loads Qt widgets.
        from llama_wrangler.gui import run_gui, run_open

        return run_open(args) if args else run_gui()
    from llama_wrangler.cli import run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
