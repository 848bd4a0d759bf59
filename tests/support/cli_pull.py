"""Ctrl-C in the middle of a ``pull`` run as a real process (the CLI tests of both sources)."""

from __future__ import annotations

import signal
import subprocess
import time

from llama_wrangler.paths import AppPaths
from llama_wrangler.sources.partials import list_partials


def interrupt_pull(command: list[str], env: dict[str, str], paths: AppPaths) -> tuple[int, str]:
    """Run ``command``, send SIGINT once its partial download has bytes on disk; its exit status and stderr."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not any(p.bytes_on_disk > 0 for p in list_partials(paths)):
        assert proc.poll() is None and time.monotonic() < deadline, "download never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    return proc.returncode, err
