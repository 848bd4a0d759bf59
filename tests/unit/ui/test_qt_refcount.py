"""PySide6 6.12 drops a reference to None on every void-returning call and to True on every emit; the
workaround keeps a long GUI session from freeing the singletons (it aborted the app before)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot


class _Emitter(QObject):
    ping = Signal()


def test_many_void_calls_and_emits_do_not_free_the_singletons(qtbot: QtBot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    emitter = _Emitter()
    # More calls than None and True have references in a fresh interpreter (tens of thousands).
    for _ in range(300_000):
        label.setText("x")
        emitter.ping.emit()
    assert label.text() == "x"
