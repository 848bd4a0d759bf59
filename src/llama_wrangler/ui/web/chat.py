"""The Chat page: llama-server's own web UI, through the stable endpoint, when a model is served; a plain
message with a Serve button when none is (never a browser error page).

Only the loopback endpoint loads here (:class:`~llama_wrangler.services.web_policy.ChatPolicy`); links in a
chat open in the system browser. When the server has an API key the page's requests to the endpoint carry
it (a request interceptor on this page only, for that origin only).
"""

from __future__ import annotations

from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtWebEngineCore import (
    QWebEngineProfile,
    QWebEngineScript,
    QWebEngineUrlRequestInfo,
    QWebEngineUrlRequestInterceptor,
)
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from llama_wrangler.services.web_policy import ChatPolicy, Decision, WebOrigin
from llama_wrangler.ui.web.guarded_page import GuardedPage


class _ApiKeyInterceptor(QWebEngineUrlRequestInterceptor):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.origin: WebOrigin | None = None
        self.api_key = ""

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:  # noqa: N802 (Qt override)
        if self.api_key and self.origin is not None and WebOrigin.of(info.requestUrl().toString()) == self.origin:
            info.setHttpHeader(b"Authorization", f"Bearer {self.api_key}".encode())


class ChatPage(QWidget):
    """Signals:
        serve_requested(str): the user picked a model to serve from the empty page.
    """

    serve_requested = Signal(str)

    def __init__(self, profile: QWebEngineProfile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatPage")
        self._policy = ChatPolicy("")
        self.url = ""
        self.view = QWebEngineView(self)
        self.page = GuardedPage(profile, self._decide, self.view)
        self._interceptor = _ApiKeyInterceptor(self)
        self.page.setUrlRequestInterceptor(self._interceptor)
        self.view.setPage(self.page)
        self.view.loadFinished.connect(self._on_load_finished)
        self.problem = ""  # why the served page is not shown (a server without a web UI, a refused key)

        self.message = QLabel()
        self.message.setObjectName("chatMessage")
        self.message.setWordWrap(True)
        self.models = QComboBox()
        self.models.setMinimumWidth(320)
        self.serve_button = QPushButton("Serve")
        self.serve_button.setProperty("primary", True)
        self.serve_button.clicked.connect(self._on_serve_clicked)
        title = QLabel("Chat")
        title.setObjectName("pageTitle")
        row = QHBoxLayout()
        row.addWidget(self.models)
        row.addWidget(self.serve_button)
        row.addStretch(1)
        empty = QWidget()
        empty_layout = QVBoxLayout(empty)
        empty_layout.setContentsMargins(32, 28, 32, 28)
        empty_layout.setSpacing(12)
        empty_layout.addWidget(title)
        empty_layout.addWidget(self.message)
        empty_layout.addLayout(row)
        empty_layout.addStretch(1)
        self.empty = empty

        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(self.view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.show_nothing_served("No model is being served. Pick one and serve it to chat with it here.")

    def _decide(self, url: str, main_frame: bool) -> Decision:
        return self._policy.decide(url, main_frame=main_frame)

    def set_models(self, models: list[tuple[str, str]]) -> None:
        """(model id, name) of every servable library model."""
        current = self.models.currentData()
        self.models.clear()
        for model_id, name in models:
            self.models.addItem(name, model_id)
        index = self.models.findData(current)
        self.models.setCurrentIndex(max(0, index))
        self.serve_button.setEnabled(bool(models))

    def show_served(self, url: str, api_key: str, model_name: str) -> None:
        """A model is ready behind ``url`` (the stable endpoint)."""
        self._policy = ChatPolicy(url)
        if self._policy.origin is None:
            self.show_nothing_served(f"{model_name} is served at {url}, which is not a local address; the Chat "
                                     "page only opens the endpoint on this computer.")
            return
        self._interceptor.origin = self._policy.origin
        self._interceptor.api_key = api_key
        if url != self.url:
            self.url = url
            self.problem = ""
            self.view.setUrl(QUrl(url))
        if not self.problem:
            self.stack.setCurrentWidget(self.view)

    def show_nothing_served(self, text: str) -> None:
        self.url = ""
        self.problem = ""
        self.message.setText(text)
        self.stack.setCurrentWidget(self.empty)
        self.view.stop()

    @Slot(bool)
    def _on_load_finished(self, _ok: bool) -> None:
        if not self.url:
            return
        # llama-server answers JSON errors: a build without its web UI (404 on /) or a key it refuses.
        self.page.runJavaScript("document.body ? document.body.innerText.slice(0, 400) : ''",
                                QWebEngineScript.ScriptWorldId.ApplicationWorld, self._check_page)

    def _check_page(self, text: object) -> None:
        body = str(text or "")
        if '"not_found_error"' in body:
            self.problem = (f"The model is served at {self.url}, but this llama-server build has no built-in "
                            "chat page. Any OpenAI-compatible client can use that address.")
        elif '"authentication_error"' in body:
            self.problem = f"The server at {self.url} refused the API key from the settings."
        else:
            self.problem = ""
            return
        self.message.setText(self.problem)
        self.stack.setCurrentWidget(self.empty)

    @Slot()
    def _on_serve_clicked(self) -> None:
        model_id = self.models.currentData()
        if isinstance(model_id, str) and model_id:
            self.serve_requested.emit(model_id)
