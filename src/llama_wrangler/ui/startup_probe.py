"""Startup measurement hook for ``bench/startup.py``: report when the main window is first exposed
(on stdout, as ``shown <unix time>``), then the idle RSS (``rss <bytes>``), then quit."""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

IDLE_SETTLE_MS = 1500


class StartupProbe(QObject):
    def __init__(self, window: QWidget, app: QApplication) -> None:
        super().__init__(window)
        self._app = app
        self._done = False
        handle = window.windowHandle()
        if handle is not None and handle.isExposed():
            self._report_shown()
        else:
            window.installEventFilter(self)
            if handle is not None:
                handle.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if not self._done and event.type() in (QEvent.Type.Expose, QEvent.Type.Paint):
            self._report_shown()
        return False

    def _report_shown(self) -> None:
        self._done = True
        print(f"shown {time.time():.6f}", flush=True)
        QTimer.singleShot(IDLE_SETTLE_MS, self._report_idle)

    def _report_idle(self) -> None:
        import psutil

        print(f"rss {psutil.Process().memory_info().rss}", flush=True)
        sys.stdout.flush()
        self._app.quit()
