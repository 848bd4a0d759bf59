"""A browser tab: back / forward / reload, an address bar, loading progress, and one guarded web view."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QUrl, Slot
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QProgressBar, QToolButton, QVBoxLayout, QWidget

from llama_wrangler.ui.web.guarded_page import Decide, GuardedPage


class BrowserTab(QWidget):
    """The page is a :class:`GuardedPage`; its signals (``captured``, ``external_requested``, ``refused``)
    are what the owner wires."""

    def __init__(self, profile: QWebEngineProfile, decide: Decide, home: str, *, name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"browser-{name}")
        self.home = home
        self.view = QWebEngineView(self)
        self.page = GuardedPage(profile, decide, self.view)
        self.view.setPage(self.page)

        self.back_button = self._tool("←", "Back", lambda: self.page.triggerAction(QWebEnginePage.WebAction.Back))
        self.forward_button = self._tool("→", "Forward",
                                         lambda: self.page.triggerAction(QWebEnginePage.WebAction.Forward))
        self.reload_button = self._tool("⟳", "Reload", self._on_reload_clicked)
        self._loading = False
        self.home_button = self._tool("⌂", "Start page", self.go_home)
        self.address = QLineEdit()
        self.address.setObjectName("addressBar")
        self.address.setClearButtonEnabled(True)
        self.address.returnPressed.connect(self._on_address_entered)
        self.progress = QProgressBar()
        self.progress.setObjectName("pageProgress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(3)
        self.progress.setRange(0, 100)
        self.progress.hide()

        bar = QHBoxLayout()
        bar.setContentsMargins(10, 8, 10, 6)
        bar.setSpacing(4)
        for button in (self.back_button, self.forward_button, self.reload_button, self.home_button):
            bar.addWidget(button)
        bar.addWidget(self.address, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)

        self.view.urlChanged.connect(self._on_url_changed)
        self.view.loadStarted.connect(self._on_load_started)
        self.view.loadProgress.connect(self.progress.setValue)
        self.view.loadFinished.connect(self._on_load_finished)
        self._update_buttons()

    @staticmethod
    def _tool(text: str, tip: str, on_click: Callable[[], object]) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(on_click)
        return button

    def open(self, url: str) -> None:
        """Go to ``url`` through the same rule as a click (so a foreign address opens outside)."""
        if self.page.route(url, QWebEnginePage.NavigationType.NavigationTypeTyped, True):
            self.view.setUrl(QUrl(url))

    @Slot()
    def go_home(self) -> None:
        self.open(self.home)

    @Slot()
    def _on_address_entered(self) -> None:
        text = self.address.text().strip()
        if not text:
            return
        if "://" not in text:
            text = "https://" + text
        self.open(text)

    @Slot(QUrl)
    def _on_url_changed(self, url: QUrl) -> None:
        self.address.setText(url.toString())
        self._update_buttons()

    @Slot()
    def _on_reload_clicked(self) -> None:
        action = QWebEnginePage.WebAction.Stop if self._loading else QWebEnginePage.WebAction.Reload
        self.page.triggerAction(action)

    @Slot()
    def _on_load_started(self) -> None:
        self._loading = True
        self.progress.setValue(0)
        self.progress.show()
        self.reload_button.setText("✕")
        self.reload_button.setToolTip("Stop")

    @Slot(bool)
    def _on_load_finished(self, _ok: bool) -> None:
        self._loading = False
        self.progress.hide()
        self.reload_button.setText("⟳")
        self.reload_button.setToolTip("Reload")
        self._update_buttons()

    def _update_buttons(self) -> None:
        history = self.view.history()
        self.back_button.setEnabled(history.canGoBack())
        self.forward_button.setEnabled(history.canGoForward())
