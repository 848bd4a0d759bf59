"""The message history: every message the app showed this session, newest first, in a list a user can
open from the status bar ("Messages") or Help → Messages — so a status-bar line that was cut off or went
away can still be read in full (its tooltip holds the whole text and any details)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.services.messages import Level
from llama_wrangler.ui.buttons import dress_button_box
from llama_wrangler.ui.icons import icon

MAX_MESSAGES = 200
LEVEL_ICONS = {Level.ERROR.value: "state-crashed", Level.WARNING.value: "state-busy",
               Level.INFO.value: "state-stopped"}
LEVEL_WORDS = {Level.ERROR.value: "Error", Level.WARNING.value: "Warning", Level.INFO.value: "Info"}


@dataclass(frozen=True)
class Message:
    when: datetime
    level: str
    text: str
    details: str

    @property
    def time(self) -> str:
        return self.when.strftime("%H:%M:%S")

    def full_text(self) -> str:
        head = f"{self.time} · {LEVEL_WORDS.get(self.level, self.level)}\n{self.text}"
        return f"{head}\n\n{self.details}" if self.details and self.details != self.text else head


class MessageHistory(QPushButton):
    """A status-bar button, "Messages (3)", that opens the list. Signals:
        changed(): a message was added.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messagesButton")
        self.setFlat(True)
        self.setToolTip("Messages from this session")
        self.messages: list[Message] = []
        self._dialog: MessagesDialog | None = None
        self.clicked.connect(self.open_list)
        self._refresh()

    def add(self, level: str, text: str, details: str = "") -> None:
        self.messages.insert(0, Message(datetime.now().astimezone(), level, text, details))
        del self.messages[MAX_MESSAGES:]
        self._refresh()
        if self._dialog is not None:
            self._dialog.fill(self.messages)
        self.changed.emit()

    def _refresh(self) -> None:
        errors = sum(1 for m in self.messages if m.level == Level.ERROR.value)
        self.setText(f"Messages ({len(self.messages)})" if self.messages else "Messages")
        self.setProperty("hasErrors", bool(errors))
        self.style().unpolish(self)
        self.style().polish(self)

    @Slot()
    def open_list(self) -> MessagesDialog:
        if self._dialog is None:
            self._dialog = MessagesDialog(self.window())
            self._dialog.finished.connect(self._on_dialog_finished)
        self._dialog.fill(self.messages)
        self._dialog.show()
        self._dialog.raise_()
        return self._dialog

    @Slot(int)
    def _on_dialog_finished(self, _result: int) -> None:
        if self._dialog is not None:
            self._dialog.deleteLater()
            self._dialog = None


class MessagesDialog(QDialog):
    """The list (time, level, first line; the full text as the tooltip) and the selected message in full."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messagesDialog")
        self.setWindowTitle("Messages")
        self.resize(640, 460)
        title = QLabel("Messages from this session")
        title.setObjectName("sectionTitle")
        self.list = QListWidget()
        self.list.setWordWrap(False)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # elide, the tooltip has it all
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.full = QPlainTextEdit()
        self.full.setReadOnly(True)
        self.full.setMaximumHeight(150)
        self.empty = QLabel("No messages yet.")
        self.empty.setProperty("muted", True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        dress_button_box(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(title)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.full)
        layout.addWidget(buttons)

    def fill(self, messages: list[Message]) -> None:
        self.list.clear()
        for message in messages:
            first = message.text.splitlines()[0] if message.text else ""
            item = QListWidgetItem(icon(LEVEL_ICONS.get(message.level, "state-stopped")),
                                   f"{message.time}   {LEVEL_WORDS.get(message.level, '')}   {first}")
            item.setToolTip(message.full_text())
            item.setData(Qt.ItemDataRole.UserRole, message.full_text())
            self.list.addItem(item)
        self.empty.setVisible(not messages)
        self.full.setVisible(bool(messages))
        if messages:
            self.list.setCurrentRow(0)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        self.full.setPlainText(str(current.data(Qt.ItemDataRole.UserRole)) if current is not None else "")
