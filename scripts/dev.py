#!/usr/bin/env python3
"""Set up a virtual environment and run the app or the test suite. Standard library only.

    python3 scripts/dev.py run [ARGS...]   # the app (or a CLI subcommand: run list, run serve MODEL ...)
    python3 scripts/dev.py test [PYTEST ARGS...]   # lint, type-check, build/reuse llama.cpp, run tests

The virtual environment lives in ``.venv`` next to this repo and is refreshed when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, cwd=ROOT, env=env)


def ensure_venv(extras: str) -> None:
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'app'}"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    target = f".[{extras}]" if extras else "."
    _run([str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", target])
    stamp.write_text(wanted)


def run_app(args: list[str]) -> int:
    ensure_venv("")
    return subprocess.call([str(PYTHON), "-m", "llama_wrangler", *args], cwd=ROOT)


def run_tests(args: list[str]) -> int:
    ensure_venv("test,package")  # the bundle test builds the app with PyInstaller
    env = dict(os.environ)
    # Build the pinned llama.cpp runtime once (minutes) and reuse it on later runs.
    result = subprocess.run([str(PYTHON), "-m", "tests.support.ci_cache"], cwd=ROOT, env=env,
                            check=True, stdout=subprocess.PIPE, text=True)
    env["LLAMA_WRANGLER_TEST_RUNTIME"] = result.stdout.strip().splitlines()[-1]
    print(f"llama.cpp runtime for tests: {env['LLAMA_WRANGLER_TEST_RUNTIME']}", flush=True)
    _run([str(BIN / "ruff"), "check", "src", "tests", "bench", "scripts"], env)
    _run([str(BIN / "mypy")], env)
    return subprocess.call([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    return run_app(rest) if command == "run" else run_tests(rest)


if __name__ == "__main__":
    sys.exit(main())
