"""sha256 of model files: a Qt-free function, and a background worker the :class:`Library` owns.

Hashing a 10 GB model takes tens of seconds, so it never runs in the caller's thread unless asked. The
worker is one daemon thread fed by a queue: one file at a time (the disk is the bottleneck anyway), and
closing the app never waits for a half-hashed file.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path

from llama_wrangler.errors import CancelledError
from llama_wrangler.library.records import FileStat, ModelRecord
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
    and must check it; :meth:`close` cancels the running one and drops the rest.

    ``on_idle`` runs on the worker each time it empties its queue, before :meth:`wait` returns: the
    owner saves the results of a whole batch there, once, instead of once per file.
    """

    def __init__(self, on_idle: Callable[[], None] | None = None) -> None:
        self._tasks: deque[Task] = deque()
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending = 0  # queued plus running
        self._on_idle = on_idle

    def submit(self, task: Task) -> None:
        self.submit_all([task])

    def submit_all(self, tasks: Iterable[Task]) -> None:
        """Queue several tasks at once: the worker cannot find the queue empty half-way through them
        (which would save a batch early)."""
        batch = list(tasks)
        with self._lock:
            if self._cancel.cancelled or not batch:
                return
            self._tasks.extend(batch)
            self._pending += len(batch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted task finished (and ``on_idle`` ran); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._cancel.cancel()
        with self._lock:
            self._pending -= len(self._tasks)
            self._tasks.clear()
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._tasks) or self._cancel.cancelled)
                if not self._tasks:
                    return  # closed
                task = self._tasks.popleft()
            try:
                if not self._cancel.cancelled:
                    task(self._cancel)
            except CancelledError:
                pass
            except Exception:  # a bad file must not kill the worker; the record just stays unhashed
                log.exception("background hashing failed")
            try:
                with self._lock:
                    drained = not self._tasks
                if drained and self._on_idle is not None and not self._cancel.cancelled:
                    self._on_idle()
            except Exception:  # e.g. the registry could not be saved: the owner keeps the results
                log.exception("saving after background hashing failed")
            finally:
                with self._changed:
                    self._pending -= 1
                    self._changed.notify_all()


@dataclass(frozen=True)
class _Hashed:
    """A hash computed for a record's files as they were (paths and size+mtime) when it was read."""

    paths: tuple[Path, ...]
    stats: tuple[FileStat, ...]
    hashes: tuple[str, ...]


class UnsavedHashes:
    """Hashes computed but not saved yet, by record id (the :class:`Library` saves them in batches).
    Not locked: the library holds its lock around every use."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Hashed] = {}

    def __bool__(self) -> bool:
        return bool(self._by_id)

    def add(self, record: ModelRecord, hashes: tuple[str, ...]) -> None:
        """``hashes`` of ``record``'s files as the record describes them."""
        self._by_id[record.id] = _Hashed(record.paths, record.stats, hashes)

    def apply(self, records: MutableMapping[str, ModelRecord]) -> None:
        """Put the hashes into the records they were computed for, if those still have the same files;
        forget the rest (a changed file is hashed again)."""
        for record_id, hashed in list(self._by_id.items()):
            current = records.get(record_id)
            if current is None or current.paths != hashed.paths or current.stats != hashed.stats:
                del self._by_id[record_id]
            elif current.shard_sha256 != hashed.hashes:
                records[record_id] = replace(current, sha256=hashed.hashes[0], shard_sha256=hashed.hashes)

    def clear(self) -> None:
        self._by_id.clear()
