"""PySide6 6.12.0 dropped a reference to None on every void-returning call and to True on every emit, which
aborted long GUI sessions on Python 3.11 ("none_dealloc", "bool_dealloc"). pyproject.toml excludes it; this
test fails on any PySide6 that brings the bug back."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot


class _Emitter(QObject):
    ping = Signal()


def test_void_calls_and_emits_keep_singleton_references(qtbot: QtBot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    emitter = _Emitter()
    calls = 20_000
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        label.setText("x")
        emitter.ping.emit()
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    # A healthy binding loses none; the buggy one loses exactly one per call.
    assert lost_none < calls // 2, f"{lost_none} references to None lost in {calls} calls"
    assert lost_true < calls // 2, f"{lost_true} references to True lost in {calls} emits"
    assert label.text() == "x"
