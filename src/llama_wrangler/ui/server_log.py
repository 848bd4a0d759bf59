"""The Server page's live log: llama-server's output, following new lines until the user scrolls up.

"Following" is a state, not a guess made per line: the view stays at the bottom when lines arrive *and*
when it gets shorter (an error appearing above it shrinks it), and stops only when the user scrolls away
from the bottom. With the stable endpoint in front, llama-server's own loopback address is marked as
internal, so nobody points a client at a port that changes with every start.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import Slot
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LOG_MAX_LINES = 2000
BOTTOM_SLACK = 4
_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0):(\d+)")
_LISTENING = re.compile(r"listening on .*?:(\d+)|--port\s+(\d+)", re.IGNORECASE)


def mark_internal(line: str, public_url: str) -> str:
    """``line`` with a note when it names a loopback port other than ``public_url``'s (the endpoint's)."""
    if not public_url:
        return line
    public = _URL.search(public_url)
    public_port = public.group(1) if public else ""
    for match in (*_URL.finditer(line), *_LISTENING.finditer(line)):
        port = next((g for g in match.groups() if g), "")
        if port and port != public_port:
            return f"{line}   ← internal port; clients use {public_url}"
    return line


class ServerLog(QPlainTextEdit):
    def __init__(self, public_url: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("serverLog")
        self._public_url = public_url
        self.setReadOnly(True)
        self.setMaximumBlockCount(LOG_MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(mono)
        self.setPlaceholderText("llama-server's output appears here while it runs.")
        self.following = True
        bar = self.verticalScrollBar()
        # Only the user's own scrolling (wheel, dragging, the bar's buttons) stops following; Qt moving
        # the bar (trimming old lines, the view getting shorter) never does.
        bar.actionTriggered.connect(self._on_user_scrolled)
        bar.valueChanged.connect(self._on_value_changed)
        bar.rangeChanged.connect(self._on_range_changed)

    def add_line(self, line: str) -> None:
        self.appendPlainText(mark_internal(line, self._public_url()))
        if self.following:
            self.scroll_to_end()

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    @Slot(int)
    def _on_user_scrolled(self, _action: int) -> None:
        bar = self.verticalScrollBar()
        self.following = bar.sliderPosition() >= bar.maximum() - BOTTOM_SLACK

    @Slot(int)
    def _on_value_changed(self, value: int) -> None:
        if value >= self.verticalScrollBar().maximum() - BOTTOM_SLACK:
            self.following = True  # back at the bottom, however it got there

    @Slot(int, int)
    def _on_range_changed(self, _low: int, _high: int) -> None:
        if self.following:
            self.scroll_to_end()
