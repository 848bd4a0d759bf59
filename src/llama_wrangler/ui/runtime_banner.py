"""The first-run banner on the Library and Server pages: "llama.cpp is needed to run models", with the
Install button right there. Hidden once a usable runtime is found; while an install runs it says so."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from llama_wrangler.runtime.report import RuntimeReport, RuntimeState
from llama_wrangler.ui.notice import Notice


class RuntimeBanner(Notice):
    """Signals:
        install_requested(): the user pressed Install.
        details_requested(): the user wants the llama.cpp page.
    """

    install_requested = Signal()
    details_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("banner", "Install llama.cpp", "Details…", parent)
        self.install_button, self.details_button = self.primary_button, self.secondary_button
        self.install_button.clicked.connect(self.install_requested)
        self.details_button.clicked.connect(self.details_requested)

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
