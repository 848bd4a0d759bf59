"""The server-state indicator: a coloured dot and words, used in the status bar and the server page."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from llama_wrangler.ui.icons import icon, state_icon_name
from llama_wrangler.ui.theme import ThemeManager

STATE_WORDS = {
    "stopped": "Server stopped",
    "starting": "Server starting…",
    "loading": "Loading model…",
    "ready": "Serving",
    "stopping": "Stopping…",
    "crashed": "Server crashed",
}


def describe_state(state: str, model: str = "", endpoint: str = "") -> str:
    words = STATE_WORDS.get(state, state)
    if state == "ready" and model:
        return f"{words} {model}" + (f" at {endpoint}" if endpoint else "")
    if state in {"starting", "loading"} and model:
        return f"{words} ({model})"
    return words


class ServerStatusLabel(QWidget):
    """Dot + text. :meth:`set_state` is all it needs."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None, *, dot_size: int = 12) -> None:
        super().__init__(parent)
        self._theme = theme
        self._dot_size = dot_size
        self.dot = QLabel()
        self.text = QLabel()
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 8, 0)
        layout.setSpacing(6)
        layout.addWidget(self.dot)
        layout.addWidget(self.text)
        self.state = ""
        self.set_state("stopped")

    def set_state(self, state: str, model: str = "", endpoint: str = "") -> None:
        self.state = state
        self.dot.setPixmap(icon(state_icon_name(state)).pixmap(self._dot_size, self._dot_size))
        self.text.setText(describe_state(state, model, endpoint))
        self.setToolTip(self.text.text())
