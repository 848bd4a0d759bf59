"""The offer on the Library page: "5 models from other apps were found … 12.3 GB. Use them in place?"
Shown when a scan (at first run, or from the page's "Find models from other apps" button) finds some."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from llama_wrangler.services.store_scan import StoreFindings
from llama_wrangler.ui.notice import Notice
from llama_wrangler.units import human_bytes


class StoreOffer(Notice):
    """Signals:
        accepted(object): use these :class:`StoreFindings` in place.
    """

    accepted = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("card", "Use them in place", "Not now", parent)
        self._findings: StoreFindings | None = None
        self.text.setProperty("muted", True)
        self.use_button, self.dismiss_button = self.primary_button, self.secondary_button
        self.use_button.clicked.connect(self._on_use)
        self.dismiss_button.clicked.connect(self.hide)

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
