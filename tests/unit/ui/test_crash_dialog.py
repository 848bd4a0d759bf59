"""Uncaught exceptions (also inside slots) open the crash dialog with the log path; the app keeps going."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from llama_wrangler.ui.crash_dialog import CrashHandler


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_opens_the_crash_dialog(qtbot: QtBot, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "llama-wrangler.log"
    handler = CrashHandler(log_file)
    handler.install()
    try:
        def broken_slot() -> None:
            raise ValueError("kaboom in a slot")

        with qtbot.waitSignal(handler.crashed) as blocker:
            QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
        dialog = handler.dialog
        assert dialog is not None
        qtbot.addWidget(dialog)
        assert blocker.args[0] == "ValueError: kaboom in a slot"
        assert str(log_file) in dialog.log_label.text()
        assert "kaboom in a slot" in dialog.summary.text()
        assert "Traceback" in dialog.details.toPlainText()
        assert "broken_slot" in dialog.details.toPlainText()
        assert not dialog.details.isVisibleTo(dialog), "details start collapsed"
        dialog.details_button.click()
        assert dialog.details.isVisibleTo(dialog)

        # The event loop still runs: a second failure lands in the same dialog.
        with qtbot.waitSignal(handler.crashed):
            QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: "2 errors so far" in dialog.summary.text())
        assert handler.dialog is dialog
    finally:
        handler.uninstall()


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_worker_thread_is_reported_on_the_gui_thread(qtbot: QtBot, tmp_path: Path) -> None:
    handler = CrashHandler(tmp_path / "app.log")
    handler.install()
    try:
        def worker() -> None:
            raise RuntimeError("thread trouble")

        thread = threading.Thread(target=worker)
        with qtbot.waitSignal(handler.crashed) as blocker:
            thread.start()
            thread.join()
        assert blocker.args[0] == "RuntimeError: thread trouble"
        qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
        assert handler.dialog is not None
        qtbot.addWidget(handler.dialog)
    finally:
        handler.uninstall()


def test_uninstall_restores_the_previous_hooks(tmp_path: Path) -> None:
    import sys

    before = sys.excepthook, threading.excepthook
    handler = CrashHandler(tmp_path / "app.log")
    handler.install()
    assert sys.excepthook != before[0]
    handler.uninstall()
    assert (sys.excepthook, threading.excepthook) == before
