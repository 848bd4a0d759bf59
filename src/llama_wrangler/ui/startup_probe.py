"""Startup measurement hook for ``bench/startup.py``: report when the main window is first exposed
(on stdout, as ``shown <unix time>``), then the idle RSS (``rss <bytes>``), then quit."""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from llama_wrangler.ui.first_shown import FirstShown

IDLE_SETTLE_MS = 1500


class StartupProbe(QObject):
    def __init__(self, window: QWidget, app: QApplication) -> None:
        super().__init__(window)
        self._app = app
        self._shown = FirstShown(window, self._report_shown)

    def _report_shown(self) -> None:
        print(f"shown {time.time():.6f}", flush=True)
        QTimer.singleShot(IDLE_SETTLE_MS, self._report_idle)

    def _report_idle(self) -> None:
        import psutil

        print(f"rss {psutil.Process().memory_info().rss}", flush=True)
        sys.stdout.flush()
        self._app.quit()
