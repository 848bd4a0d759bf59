"""Run a tool (cmake, pip, a compiler) as a child process that cancel can kill, tree and all.

Output lines go to a callback (progress parsing) and a log file as they arrive; the child runs in its own
process group/session so a cancel reaches the compilers cmake started, not just cmake.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

from llama_wrangler.errors import CancelledError
from llama_wrangler.progress import CancelToken

KILL_GRACE_S = 3.0


def kill_tree(pid: int) -> None:
    """Terminate ``pid`` and all its descendants; KILL whatever is still alive after a grace period."""
    try:
        parent = psutil.Process(pid)
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    # Children first: the parent (cmake, make) must not get the chance to report "finished" while the
    # compilers it started are still alive.
    procs = [*reversed(children), parent]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.terminate()
    _gone, alive = psutil.wait_procs(procs, timeout=KILL_GRACE_S)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.kill()
    psutil.wait_procs(alive, timeout=KILL_GRACE_S)


def run_streaming(argv: Sequence[str], *, cancel: CancelToken | None = None,
                  on_line: Callable[[str], None] | None = None, log: IO[str] | None = None,
                  cwd: Path | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run ``argv`` to completion; return its exit status. Raises :class:`CancelledError` on cancel."""
    if cancel is not None:
        cancel.raise_if_cancelled()
    kwargs: dict[str, object] = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        kwargs["start_new_session"] = True
    proc: subprocess.Popen[str] = subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
        bufsize=1, **kwargs)  # type: ignore[call-overload]
    killed = threading.Event()
    killers: list[threading.Thread] = []

    def on_cancel() -> None:
        killed.set()
        # A thread: kill_tree waits for the grace period and must not block the canceller (GUI thread).
        killer = threading.Thread(target=kill_tree, args=(proc.pid,), daemon=True)
        killers.append(killer)
        killer.start()

    remove = cancel.on_cancel(on_cancel) if cancel is not None else None
    try:
        for line in proc.stdout or ():  # always a pipe: Popen was given stdout=PIPE
            if log is not None:
                log.write(line)
            if on_line is not None:
                on_line(line.rstrip("\r\n"))
        code = proc.wait()
    except BaseException:
        kill_tree(proc.pid)
        proc.wait()
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        if remove is not None:
            remove()
        if log is not None:
            log.flush()
    if killed.is_set():
        # Report the cancel only once the whole tree is gone, so callers can delete the build folder
        # (and a CLI can exit) without leaving orphans.
        for killer in killers:
            killer.join()
        raise CancelledError()
    return code


def run_cancellable(argv: Sequence[str], *, cancel: CancelToken | None = None,
                    cwd: Path | None = None, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Like :func:`run_streaming` but collects the output (short commands: pip download, --version)."""
    lines: list[str] = []
    code = run_streaming(argv, cancel=cancel, on_line=lines.append, cwd=cwd, env=env)
    return code, "\n".join(lines)
