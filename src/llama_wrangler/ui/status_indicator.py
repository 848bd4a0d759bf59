"""The server-state indicator: a coloured dot and words, used in the status bar and the server page."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from llama_wrangler.server.state import ServerState
from llama_wrangler.ui.icons import icon
from llama_wrangler.ui.state_look import describe_state, look
from llama_wrangler.ui.theme import ThemeManager


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
        self.set_state(ServerState.STOPPED)

    def set_state(self, state: str, model: str = "", endpoint: str = "", *, open_endpoint: str = "") -> None:
        self.state = state
        self.dot.setPixmap(icon(look(state).icon).pixmap(self._dot_size, self._dot_size))
        self.text.setText(describe_state(state, model, endpoint, open_endpoint=open_endpoint))
        self.setToolTip(self.text.text())
