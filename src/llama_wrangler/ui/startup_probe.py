"""Startup measurement hook for ``bench/startup.py``: report when the main window is first exposed
(on stdout, as ``shown <unix time>``), then the idle RSS (``rss <bytes>``), then quit."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, SignalInstance
from PySide6.QtWidgets import QApplication, QWidget

from llama_wrangler.ui.first_shown import FirstShown

IDLE_SETTLE_MS = 1500


class StartupProbe(QObject):
    """``open_web``: after the idle report, show this page in a browser tab (a callable that returns the
    tab's page loadFinished signal) and report ``web_rss <bytes>`` — the app and its web engine processes —
    once it has loaded."""

    def __init__(self, window: QWidget, app: QApplication,
                 open_web: Callable[[], SignalInstance] | None = None) -> None:
        super().__init__(window)
        self._app = app
        self._open_web = open_web
        self._shown = FirstShown(window, self._report_shown)

    def _report_shown(self) -> None:
        print(f"shown {time.time():.6f}", flush=True)
        QTimer.singleShot(IDLE_SETTLE_MS, self._report_idle)

    def _report_idle(self) -> None:
        import psutil

        print(f"rss {psutil.Process().memory_info().rss}", flush=True)
        sys.stdout.flush()
        if self._open_web is None:
            self._app.quit()
            return
        self._open_web().connect(self._on_web_loaded)

    def _on_web_loaded(self, _ok: bool) -> None:
        QTimer.singleShot(IDLE_SETTLE_MS, self._report_web)

    def _report_web(self) -> None:
        import psutil

        me = psutil.Process()
        rss = me.memory_info().rss
        children = 0
        for child in me.children(recursive=True):
            try:
                children += child.memory_info().rss
            except psutil.Error:
                continue
        print(f"web_rss {rss} {children}", flush=True)
        self._app.quit()
