"""Checksums of transferred bytes: sha256 while streaming (on a second thread), git blob ids for the Hub's
small files, and a file's sha256 for callers that check what is already on disk."""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path
from typing import Any

from llama_wrangler.errors import DownloadError

HASH_BLOCK = 8 << 20
GIT_BLOB_CHECK_MAX = 64 * 1024 * 1024  # non-LFS files are small; never re-read a big one
_HEX = frozenset("0123456789abcdef")


def is_sha256_hex(value: str | None) -> bool:
    return value is not None and len(value) == 64 and set(value) <= _HEX


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class BackgroundHash:
    """sha256 on a second thread, so hashing overlaps the network and disk work of the download loop
    (hashlib releases the GIL for large updates). Bounded queue: at most ~32 chunks are in flight."""

    def __init__(self, state: Any) -> None:
        self._state = state
        self._error: Exception | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failed = False
        while (chunk := self._queue.get()) is not None:
            if failed:
                continue  # keep draining so the download loop never blocks on a full queue
            try:
                self._state.update(chunk)
            except Exception as exc:  # hashlib does not fail on bytes; if it ever did, say so at the end
                self._error = exc
                failed = True

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self) -> Any:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise DownloadError(f"Could not compute the download's checksum: {self._error}")
        return self._state


def git_blob_matches(part: Path, blob_id: str | None) -> bool:
    """Small files outside LFS have no sha256 on the Hub; their etag is the git blob id,
    ``sha1(b"blob <size>\\0" + content)``. True when it matches (or there is no such id to check)."""
    if not blob_id or len(blob_id) != 40 or not set(blob_id) <= _HEX:
        return True
    size = part.stat().st_size
    if size > GIT_BLOB_CHECK_MAX:
        return True
    digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    digest.update(part.read_bytes())
    return digest.hexdigest() == blob_id
