"""sha256 of model files: a Qt-free function, and a background worker the :class:`Library` owns.

Hashing a 10 GB model takes tens of seconds, so it never runs in the caller's thread unless asked. The
worker is one daemon thread fed by a queue: one file at a time (the disk is the bottleneck anyway), and
closing the app never waits for a half-hashed file.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from llama_wrangler.errors import CancelledError
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress

log = logging.getLogger(__name__)

BLOCK = 4 * 1024 * 1024


def sha256_file(path: Path, progress: ProgressCallback = ignore_progress,
                cancel: CancelToken | None = None) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks; checks ``cancel`` between blocks."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
            done += len(block)
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(Progress("hashing", done, total, path.name))
    return digest.hexdigest()


Task = Callable[[CancelToken], None]


class BackgroundHasher:
    """Runs hashing tasks one after another on a daemon thread. Tasks receive the hasher's cancel token
    and must check it; :meth:`close` cancels the running one and drops the rest."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Task | None] = queue.Queue()
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def submit(self, task: Task) -> None:
        with self._lock:
            if self._cancel.cancelled:
                return
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
                self._thread.start()
        self._queue.put(task)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted task finished; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._cancel.cancel()
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                if not self._cancel.cancelled:
                    task(self._cancel)
            except CancelledError:
                pass
            except Exception:  # a bad file must not kill the worker; the record just stays unhashed
                log.exception("background hashing failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
