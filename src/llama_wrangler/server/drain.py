"""Let requests still running on a ready server finish before it is told to stop.

The stable endpoint installs a hook; before a ready server is signalled, the hook gets the server's
endpoint and a ``done`` callback, and the stop waits for ``done()`` — or for the grace period, at most.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

# (endpoint of the server about to stop, done callback that may be called from any thread)
DrainHook = Callable[[str, Callable[[], None]], None]


class StopDrain(QObject):
    """One drain at a time, for the run with a given generation.

    Signals:
        finished(int generation, bool timed_out): the hook called back, or the grace period ran out.
    """

    finished = Signal(int, bool)
    _called_back = Signal(int)  # ``done()`` from any thread; handled on ours

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._hook: DrainHook | None = None
        self._generation = 0
        # Active exactly while a drain is under way.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self._called_back.connect(self._on_called_back)

    def set_hook(self, hook: DrainHook | None) -> None:
        self._hook = hook

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def begin(self, generation: int, endpoint: str, grace_s: float) -> bool:
        """Start draining ``endpoint``; False (nothing started) when no hook is set."""
        if self._hook is None:
            return False
        self._generation = generation
        self._timer.start(int(grace_s * 1000))
        self._hook(endpoint, lambda: self._called_back.emit(generation))
        return True

    def cancel(self) -> None:
        """Stop waiting; a late ``done()`` is ignored."""
        self._timer.stop()

    @Slot(int)
    def _on_called_back(self, generation: int) -> None:
        if self.active and generation == self._generation:
            self._timer.stop()
            self.finished.emit(generation, False)

    @Slot()
    def _on_timeout(self) -> None:
        self.finished.emit(self._generation, True)
