"""Run something once a window is first on screen (exposed), e.g. deferred start-up work."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


class FirstShown(QObject):
    """Calls ``callback`` once, when ``window`` is first exposed or painted (at once if it already is).

    Owned by the window, so it goes with it.
    """

    def __init__(self, window: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(window)
        self._callback: Callable[[], None] | None = callback
        self._watched: list[QObject] = []
        handle = window.windowHandle()
        if handle is not None and handle.isExposed():
            self._fire()
            return
        # The widget sees Paint, its native window sees Expose; whichever comes first counts.
        self._watched = [window] if handle is None else [window, handle]
        for watched in self._watched:
            watched.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if self._callback is not None and event.type() in (QEvent.Type.Expose, QEvent.Type.Paint):
            self._fire()
        return False

    def _fire(self) -> None:
        callback, self._callback = self._callback, None
        for watched in self._watched:
            watched.removeEventFilter(self)
        self._watched = []
        if callback is not None:
            callback()
