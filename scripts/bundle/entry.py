"""The bundle's executable: no arguments opens the window; a subcommand runs the command line (the same
``llama-wrangler`` entry point a pip install gets)."""

import sys

from llama_wrangler.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
