"""The first-run banner on the Library and Server pages: "llama.cpp is needed to run models", with the
Install button right there. Hidden once a usable runtime is found; while an install runs it says so."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from llama_wrangler.runtime.report import RuntimeReport, RuntimeState


class RuntimeBanner(QFrame):
    """Signals:
        install_requested(): the user pressed Install.
        details_requested(): the user wants the llama.cpp page.
    """

    install_requested = Signal()
    details_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.headline = QLabel()
        self.headline.setObjectName("sectionTitle")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.install_button = QPushButton("Install llama.cpp")
        self.install_button.setProperty("primary", True)
        self.install_button.clicked.connect(self.install_requested)
        self.details_button = QPushButton("Details…")
        self.details_button.clicked.connect(self.details_requested)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.headline)
        words.addWidget(self.text)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 12, 16, 12)
        row.setSpacing(12)
        row.addLayout(words, 1)
        row.addWidget(self.install_button)
        row.addWidget(self.details_button)
        self.hide()

    def show_report(self, report: RuntimeReport | None, *, installing: str = "") -> None:
        """Show what ``report`` says is missing; hide when it is usable (or not known yet).

        ``installing`` is the running install's progress line ('' when none runs)."""
        if report is None or report.usable:
            self.hide()
            return
        self.headline.setText(report.headline)
        if installing:
            self.text.setText(f"Installing llama.cpp: {installing}. Follow it on the llama.cpp page, where "
                              "its log is one click away.")
        else:
            problem = f"{report.problem} " if report.problem and report.state != RuntimeState.MISSING else ""
            self.text.setText(f"{problem}{report.advice}")
        self.install_button.setEnabled(not installing)
        self.install_button.setText("Installing…" if installing else "Install llama.cpp")
        self.show()
