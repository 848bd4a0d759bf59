"""Uncaught exceptions open a dialog with the log path and the traceback, and the app keeps running.

:class:`CrashHandler` replaces ``sys.excepthook`` (PySide6 routes exceptions raised in slots through it)
and ``threading.excepthook``; the hook may run on any thread, so it only logs and emits a signal — the
dialog is built on the GUI thread by the queued connection.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.ui.buttons import dress_button_box

log = logging.getLogger("llama_wrangler.crash")


class CrashDialog(QDialog):
    """Shows what went wrong; repeated crashes append to the same dialog instead of stacking windows."""

    def __init__(self, log_file: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("Llama Wrangler — unexpected error")
        self.setMinimumWidth(560)
        self._log_file = log_file
        self._count = 0

        title = QLabel("Something went wrong")
        title.setObjectName("dialogTitle")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_label = QLabel(f"The full report is in the log file:<br><code>{log_file}</code>")
        self.log_label.setWordWrap(True)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.details = QPlainTextEdit()
        self.details.setObjectName("crashDetails")
        self.details.setReadOnly(True)
        self.details.setVisible(False)
        self.details.setMinimumHeight(220)
        self.details_button = QPushButton("Show details")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._on_details_toggled)
        copy_button = QPushButton("Copy details")
        copy_button.clicked.connect(self._on_copy)
        open_log = QPushButton("Open log folder")
        open_log.clicked.connect(self._on_open_log)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        dress_button_box(buttons)
        row = QHBoxLayout()
        row.addWidget(self.details_button)
        row.addWidget(copy_button)
        row.addWidget(open_log)
        row.addStretch(1)
        row.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(self.summary)
        layout.addWidget(self.log_label)
        layout.addWidget(self.details, 1)
        layout.addLayout(row)

    def add_report(self, summary: str, trace: str) -> None:
        self._count += 1
        more = f" ({self._count} errors so far)" if self._count > 1 else ""
        self.summary.setText(f"{summary}{more}\n\nThe app is still running; you can close this window "
                             "and carry on. If it happens again, please include the details in a report.")
        if self.details.toPlainText():
            self.details.appendPlainText("\n" + "-" * 60 + "\n")
        self.details.appendPlainText(trace)

    @Slot(bool)
    def _on_details_toggled(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setText("Hide details" if shown else "Show details")
        self.adjustSize()

    @Slot()
    def _on_copy(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())

    @Slot()
    def _on_open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._log_file.parent)))


class CrashHandler(QObject):
    """Installs the crash hooks and owns the (single) crash dialog.

    Signals:
        crashed(str summary, str traceback): an uncaught exception happened (any thread).
    """

    crashed = Signal(str, str)

    def __init__(self, log_file: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._log_file = log_file
        self._dialog: CrashDialog | None = None
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self.dialog_parent: QWidget | None = None
        self.crashed.connect(self._on_crashed, Qt.ConnectionType.QueuedConnection)

    @property
    def dialog(self) -> CrashDialog | None:
        return self._dialog

    def install(self) -> None:
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall(self) -> None:
        sys.excepthook = self._previous_hook
        threading.excepthook = self._previous_thread_hook

    def _excepthook(self, exc_type: type[BaseException], exc: BaseException,
                    tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            # Ctrl+C in the terminal that started the app: quit rather than report.
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        trace = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception\n%s", trace)
        self.crashed.emit(f"{exc_type.__name__}: {exc}", trace)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(str, str)
    def _on_crashed(self, summary: str, trace: str) -> None:
        if self._dialog is None:
            self._dialog = CrashDialog(self._log_file, self.dialog_parent)
        self._dialog.add_report(summary, trace)
        # open(), not exec(): a nested event loop inside an exception handler invites re-entrancy.
        self._dialog.open()
        self._dialog.raise_()
