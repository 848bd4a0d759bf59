"""sha256 of a ranged download, computed while it arrives: a thread hashes the contiguous written prefix
of the partial as it grows, reading it back from the page cache (Qt-free).

Pieces arrive out of order, so the bytes cannot be hashed as they come in; but they are handed out in file
order, so the written prefix trails the newest byte by about one piece per connection and the hash keeps
up with the transfer. Reading back is a copy from memory the kernel still holds (the bytes were written
moments ago); ``bench/download.py`` measures the whole path against curl. After a restart the same thread
re-hashes what was already on disk before it catches up with the new bytes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from llama_wrangler.errors import CancelledError, DownloadError
from llama_wrangler.sources.transfer.verify import HASH_BLOCK


class PrefixHasher:
    """Hashes ``path`` from byte 0 up to the frontier it is told (:meth:`advance`)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._state: Any = hashlib.sha256()
        self._hashed = 0
        self._frontier = 0
        self._stopped = False
        self._abandoned = False
        self._error: Exception | None = None
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="sha256-prefix", daemon=True)
        self._thread.start()

    def advance(self, frontier: int) -> None:
        """The bytes before ``frontier`` are written: hash them when the thread gets to them."""
        with self._wake:
            if frontier > self._frontier:
                self._frontier = frontier
                self._wake.notify()

    def finish(self, size: int) -> Any:
        """Wait until ``size`` bytes are hashed; returns the sha256 state."""
        self.advance(size)
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join()
        if self._error is not None:
            raise DownloadError(f"Could not compute the download's checksum: {self._error}")
        if self._hashed != size:
            raise CancelledError()
        return self._state

    def stop(self) -> None:
        """Stop without finishing (the transfer was cancelled or failed)."""
        with self._wake:
            self._stopped = self._abandoned = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        try:
            # One reused buffer: a fresh 8 MiB bytes object per read would fault in new pages every time.
            buffer = bytearray(HASH_BLOCK)
            view = memoryview(buffer)
            with self._path.open("rb") as handle:
                fd = handle.fileno()
                while True:
                    with self._wake:
                        while self._hashed >= self._frontier and not self._stopped:
                            self._wake.wait()
                        if self._abandoned or self._hashed >= self._frontier:
                            return
                        frontier = self._frontier
                    while self._hashed < frontier and not self._abandoned:
                        wanted = min(HASH_BLOCK, frontier - self._hashed)
                        count = os.preadv(fd, [view[:wanted]], self._hashed)
                        if count <= 0:
                            raise OSError(f"{self._path} ended at byte {self._hashed}")
                        self._state.update(view[:count])
                        self._hashed += count
        except Exception as exc:  # reported by finish(); the download then fails with it
            self._error = exc
