"""Throttled byte progress for a transfer (one meter may span several files of one model)."""

from __future__ import annotations

import time

from llama_wrangler.progress import Progress, ProgressCallback

PROGRESS_INTERVAL_S = 0.1
SPEED_WINDOW_S = 5.0


class ByteMeter:
    """Throttled byte progress with a speed over the last few seconds (for an honest ETA).

    ``total`` None: unknown until the server says (the downloader fills it in); ``stage`` is the
    :class:`~llama_wrangler.progress.Progress` stage of the byte reports.
    """

    def __init__(self, progress: ProgressCallback, total: int | None, done: int, label: str, *,
                 stage: str = "download") -> None:
        self._progress = progress
        self.total = total
        self.done = done
        self._label = label
        self._stage = stage
        self._samples: list[tuple[float, int]] = [(time.monotonic(), done)]
        self._last_report = 0.0

    def credit(self, count: int) -> None:
        """Count bytes that were not transferred now (already on disk, or thrown away): they move the
        bar but not the speed."""
        self.done += count
        self._samples = [(t, d + count) for t, d in self._samples]
        self.add(0, force=True)

    def note(self, stage: str, done: int, total: int, message: str) -> None:
        """A throttled report of another stage (re-hashing a partial before resuming)."""
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S or done == total:
            self._last_report = now
            self._progress(Progress(stage, done, total, message))

    def add(self, count: int, *, force: bool = False) -> None:
        self.done += count
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_INTERVAL_S:
            return
        self._last_report = now
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.pop(0)
        first_t, first_done = self._samples[0]
        elapsed = now - first_t
        speed = (self.done - first_done) / elapsed if elapsed > 0 else None
        self._progress(Progress(self._stage, self.done, self.total, self._label, speed or None))
