"""The offer on the Library page: "5 models from other apps were found … 12.3 GB. Use them in place?"
Shown when a scan (at first run, or from the page's "Find models from other apps" button) finds some."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from llama_wrangler.services.store_scan import StoreFindings
from llama_wrangler.units import human_bytes


class StoreOffer(QFrame):
    """Signals:
        accepted(object): use these :class:`StoreFindings` in place.
    """

    accepted = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._findings: StoreFindings | None = None
        self.headline = QLabel()
        self.headline.setObjectName("sectionTitle")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setProperty("muted", True)
        self.use_button = QPushButton("Use them in place")
        self.use_button.setProperty("primary", True)
        self.use_button.clicked.connect(self._on_use)
        self.dismiss_button = QPushButton("Not now")
        self.dismiss_button.clicked.connect(self.hide)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.headline)
        words.addWidget(self.text)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 12, 16, 12)
        row.setSpacing(12)
        row.addLayout(words, 1)
        row.addWidget(self.use_button)
        row.addWidget(self.dismiss_button)
        self.hide()

    def offer(self, findings: StoreFindings) -> None:
        self._findings = findings
        if not findings.count:
            self.hide()
            return
        plural = "s" if findings.count != 1 else ""
        self.headline.setText(f"{findings.count} model{plural} from other apps, {human_bytes(findings.total_bytes)}")
        self.text.setText(f"Found in {findings.where()}. Llama Wrangler can serve them where they are: nothing "
                          "is copied or moved, and the other apps keep working.")
        self.show()

    def _on_use(self) -> None:
        if self._findings is not None:
            self.accepted.emit(self._findings)
        self.hide()
