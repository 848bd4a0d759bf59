"""A notice above a page's content: a headline, a line of text, and two buttons (the first one primary).
The first-run banner and the other-apps offer are both notices."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class Notice(QFrame):
    def __init__(self, object_name: str, primary: str, secondary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.headline = QLabel()
        self.headline.setObjectName("sectionTitle")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.primary_button = QPushButton(primary)
        self.primary_button.setProperty("primary", True)
        self.secondary_button = QPushButton(secondary)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.headline)
        words.addWidget(self.text)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 12, 16, 12)
        row.setSpacing(12)
        row.addLayout(words, 1)
        row.addWidget(self.primary_button)
        row.addWidget(self.secondary_button)
        self.hide()
