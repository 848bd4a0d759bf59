"""The Chat page with the real llama-server: its own web UI through the stable endpoint, the API key passed
by the page, and a plain message with a Serve button when nothing is served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWebEngineCore import QWebEngineScript
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.server.state import ServerState
from llama_wrangler.settings import ImportMode, PortConflict, Settings
from tests.support.desktop import UrlCatcher
from tests.support.gui import app_session
from tests.support.server_fixtures import TinyModels

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

READY_MS = 60_000
API_KEY = "chat-page-secret"


@pytest.fixture
def wrangler(qapp: QApplication, app_paths: AppPaths, llama_server_binary: Path,
             tiny_models: TinyModels) -> Iterator[WranglerApp]:
    Library(app_paths, hash_in_background=False).load().import_files([tiny_models.alpha], ImportMode.LINK)
    settings = Settings()
    settings.runtime.llama_server_path = llama_server_binary
    settings.server.port_conflict = PortConflict.PICK_FREE
    settings.server.context_size = 256
    settings.server.threads = 1
    settings.server.api_key = API_KEY
    yield from app_session(qapp, app_paths, settings)


def _js(qtbot: QtBot, wrangler: WranglerApp, code: str) -> object:
    results: list[object] = []
    chat = wrangler.web.chat_page()
    chat.page.runJavaScript(code, QWebEngineScript.ScriptWorldId.ApplicationWorld, results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=10_000)
    return results[0]


def test_chat_page_shows_the_served_models_web_ui(wrangler: WranglerApp, qtbot: QtBot) -> None:
    wrangler.window.show_page("chat")
    chat = wrangler.web.chat_page()
    # Nothing served: our message and a Serve button, not a browser error page.
    assert chat.stack.currentWidget() is chat.empty
    assert "No model is being served" in chat.message.text()
    assert chat.models.count() == 1 and chat.serve_button.isEnabled()

    chat.serve_button.click()
    qtbot.waitUntil(lambda: wrangler.supervisor.state == ServerState.READY, timeout=READY_MS)
    qtbot.waitUntil(lambda: chat.stack.currentWidget() is chat.view, timeout=5_000)
    assert chat.view.url().toString().rstrip("/") == wrangler.stable.url.rstrip("/")
    # The endpoint wants the API key for every request: the page got llama-server's UI, not a 401 error.
    # The endpoint wants the API key for every request, and the page sent it: llama-server answered the page
    # itself (its chat UI, or — this CI build has no web UI compiled in — its 404), never "Invalid API key".
    qtbot.waitUntil(lambda: bool(_js(qtbot, wrangler, "document.body && document.body.innerText.length > 0")),
                    timeout=20_000)
    body = str(_js(qtbot, wrangler, "document.body.innerText"))
    assert "authentication_error" not in body
    if "not_found_error" in body:
        qtbot.waitUntil(lambda: chat.stack.currentWidget() is chat.empty, timeout=5_000)
        assert "no built-in chat page" in chat.message.text() and wrangler.stable.url in chat.message.text()
    else:
        assert chat.stack.currentWidget() is chat.view
    # Other sites do not load in the Chat page.
    before = chat.view.url().toString()
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("http", catcher, "catch")
    try:
        chat.page.setUrl(QUrl("http://127.0.0.1:9/elsewhere"))
        qtbot.waitUntil(lambda: catcher.urls == ["http://127.0.0.1:9/elsewhere"], timeout=5_000)
    finally:
        QDesktopServices.unsetUrlHandler("http")
    assert chat.view.url().toString() == before

    wrangler.actions.stop()
    qtbot.waitUntil(lambda: chat.stack.currentWidget() is chat.empty, timeout=30_000)
    assert "No model is being served" in chat.message.text()
