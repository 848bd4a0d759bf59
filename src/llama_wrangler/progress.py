"""Qt-free plumbing for long jobs: progress reports and cooperative cancellation.

Core functions (download, build, convert) take a :class:`CancelToken` and a :data:`ProgressCallback`;
``workers/`` wraps them in QThreads and turns the callback into Qt signals. The core never prints.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from llama_wrangler.errors import CancelledError


@dataclass(frozen=True)
class Progress:
    """One progress report. ``total`` is None when unknown (then show a busy indicator)."""

    stage: str
    done: int = 0
    total: int | None = None
    message: str = ""
    bytes_per_second: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    @property
    def eta_seconds(self) -> float | None:
        if self.total is None or not self.bytes_per_second:
            return None
        return max(0.0, (self.total - self.done) / self.bytes_per_second)


ProgressCallback = Callable[[Progress], None]


def ignore_progress(_progress: Progress) -> None:
    """A progress callback that drops reports (CLI --quiet, tests that do not care)."""


class CancelToken:
    """Set by the GUI/CLI thread, polled by the worker. Also lets a worker register a kill hook
    (e.g. terminate a child process) that runs the moment cancel is requested."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True early if cancelled (use instead of time.sleep)."""
        return self._event.wait(seconds)

    def on_cancel(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run ``hook`` when cancelled (at once if already cancelled). Returns a function that
        unregisters it."""
        with self._lock:
            already = self._event.is_set()
            if not already:
                self._hooks.append(hook)
        if already:
            hook()

        def remove() -> None:
            with self._lock:
                if hook in self._hooks:
                    self._hooks.remove(hook)

        return remove
