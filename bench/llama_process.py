"""One llama-server process for a benchmark: started with an argv the app builds, ready once ``/health``
says so, stopped on the way out (shared by bench/memory.py and bench/prompt_cache.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import httpx


@contextmanager
def ready_server(argv: list[str], port: int, *, output: IO[Any] | int = subprocess.DEVNULL,
                 what_it_said: Callable[[], str] = lambda: "",
                 timeout_s: float = 60) -> Iterator[subprocess.Popen[bytes]]:
    """The started process once it answers ``/health`` with 200; ``what_it_said()`` goes into the error
    when it exits first."""
    process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"llama-server exited ({process.returncode}): {what_it_said()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise SystemExit(f"llama-server did not load in {timeout_s:.0f} s")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
