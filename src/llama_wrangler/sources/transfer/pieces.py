"""The map of a ranged download's pieces, kept on disk beside the partial so that a restart resumes every
piece where it stopped (Qt-free).

The file is cut into fixed-size pieces, handed out in order to the connections of
:class:`~llama_wrangler.sources.transfer.ranged.RangedParts`; the map records, per piece, how many of its
bytes are written. It is saved (atomically) at most every :data:`SAVE_INTERVAL_S` and whenever a transfer
stops, and always *after* the bytes it counts were written, so a crash can only make it undercount: those
bytes are fetched again, never trusted unwritten.

``<partial>.ranges`` is the file: ``{"version": 1, "size": N, "piece": P, "done": [bytes per piece]}``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from llama_wrangler.atomic import write_json_atomic

SAVE_INTERVAL_S = 0.5


class PieceMap:
    """Which bytes of a pre-allocated partial are written; thread-safe.

    ``frontier`` is the end of the contiguous written prefix: the bytes before it can be hashed in order.
    """

    def __init__(self, size: int, piece: int, done: list[int] | None = None) -> None:
        self.size = size
        self.piece = piece
        count = max(1, -(-size // piece))
        self.done = done if done is not None and len(done) == count else [0] * count
        self._lock = threading.Lock()
        self._first_open = 0
        self._advance_first_open()
        self._next = 0  # the next piece not yet handed to a connection
        self._saved_at = 0.0

    # -- geometry -------------------------------------------------------------------------------------
    def bounds(self, index: int) -> tuple[int, int]:
        """First byte and length of piece ``index``."""
        start = index * self.piece
        return start, min(self.piece, self.size - start)

    def _advance_first_open(self) -> None:
        while self._first_open < len(self.done) and self.done[self._first_open] >= self.bounds(self._first_open)[1]:
            self._first_open += 1

    @property
    def frontier(self) -> int:
        with self._lock:
            return self._frontier()

    def _frontier(self) -> int:  # under the lock
        if self._first_open >= len(self.done):
            return self.size
        return self.bounds(self._first_open)[0] + self.done[self._first_open]

    @property
    def written(self) -> int:
        """Bytes written so far (all pieces)."""
        with self._lock:
            return sum(self.done)

    @property
    def complete(self) -> bool:
        return self.frontier == self.size

    # -- work -----------------------------------------------------------------------------------------
    @property
    def pieces_left(self) -> bool:
        """Whether some piece has not been handed to a connection yet."""
        with self._lock:
            return self._next < len(self.done)

    def take(self) -> int | None:
        """The next piece that still needs bytes, in file order (None: every piece is handed out)."""
        with self._lock:
            while self._next < len(self.done):
                index = self._next
                self._next += 1
                if self.done[index] < self.bounds(index)[1]:
                    return index
            return None

    def wrote(self, index: int, count: int) -> int:
        """Count ``count`` more bytes of piece ``index`` as written; returns the new frontier."""
        with self._lock:
            self.done[index] += count
            if index == self._first_open:
                self._advance_first_open()
            return self._frontier()

    # -- persistence ----------------------------------------------------------------------------------
    def save(self, path: Path, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._saved_at < SAVE_INTERVAL_S:
                return
            self._saved_at = now
            snapshot = list(self.done)
        write_json_atomic(path, {"version": 1, "size": self.size, "piece": self.piece, "done": snapshot})

    @classmethod
    def load(cls, path: Path, size: int) -> PieceMap | None:
        """The map saved for a file of ``size`` bytes; None when there is none or it does not fit."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            piece, done = int(raw["piece"]), [int(value) for value in raw["done"]]
            if int(raw["size"]) != size or piece <= 0:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        loaded = cls(size, piece, done)
        if len(loaded.done) != len(done) or any(
                not 0 <= value <= loaded.bounds(i)[1] for i, value in enumerate(done)):
            return None
        return loaded

    @classmethod
    def from_prefix(cls, size: int, piece: int, have: int) -> PieceMap:
        """A map for a partial whose first ``have`` bytes are written in order (a one-stream partial)."""
        pieces = cls(size, piece)
        for index in range(len(pieces.done)):
            start, length = pieces.bounds(index)
            pieces.done[index] = max(0, min(length, have - start))
        pieces._advance_first_open()
        return pieces
