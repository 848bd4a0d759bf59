"""Fixtures for the browser tabs: the real app with real QtWebEngine (offscreen), its Hugging Face tab on a
loopback hub that also serves pages shaped like the hub's, its Ollama tab on a loopback site."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineScript
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import Settings, TokenSource
from tests.support.desktop import UrlCatcher
from tests.support.fake_hub import FakeHub
from tests.support.fake_sites import (
    PageServer,
    hf_blob_page,
    hf_model_page,
    hf_tree_page,
    ollama_library_page,
    ollama_tag_page,
)
from tests.support.gui import app_session
from tests.support.hf_repos import GGUF_REPO, PublishedGGUF, publish_gguf_repo

APP_WORLD = QWebEngineScript.ScriptWorldId.ApplicationWorld
MAIN_WORLD = QWebEngineScript.ScriptWorldId.MainWorld
HF_FILES = ("tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf", "Q2_K/tiny-Q2_K-00001-of-00003.gguf", "README.md")


@pytest.fixture
def desktop() -> Iterator[UrlCatcher]:
    catcher = UrlCatcher()
    schemes = ("http", "https", "lmstudio", "jan")
    for scheme in schemes:
        QDesktopServices.setUrlHandler(scheme, catcher, "catch")
    yield catcher
    for scheme in schemes:
        QDesktopServices.unsetUrlHandler(scheme)


@dataclass
class Sites:
    hub: FakeHub
    ollama: PageServer
    published: PublishedGGUF

    def hf(self, path: str) -> str:
        return f"{self.hub.endpoint}{path}"


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Sites]:
    with FakeHub() as hub, PageServer() as ollama:
        published = publish_gguf_repo(hub, tmp_path / "hub-src")
        commit = published.repo.sha
        hub.add_page(f"/{GGUF_REPO}", hf_model_page(GGUF_REPO, HF_FILES))
        hub.add_page(f"/{GGUF_REPO}/tree/main", hf_tree_page(GGUF_REPO, "main", HF_FILES))
        hub.add_page(f"/{GGUF_REPO}/blob/{commit}/tiny-Q8_0.gguf", hf_blob_page(GGUF_REPO, commit, "tiny-Q8_0.gguf"))
        hub.add_page("/models", "<h1>Models</h1>")
        ollama.pages["/library"] = "<h1>Library</h1><a href='/library/tinyllama'>tinyllama</a>"
        ollama.pages["/library/tinyllama"] = ollama_library_page("tinyllama", ["1.1b", "1.1b-q8_0"])
        ollama.pages["/library/tinyllama:1.1b"] = ollama_tag_page("tinyllama", "1.1b")
        yield Sites(hub, ollama, published)


@pytest.fixture
def web_app(qapp: QApplication, app_paths: AppPaths, sites: Sites) -> Iterator[WranglerApp]:
    settings = Settings()
    settings.downloads.hf_endpoint = sites.hub.endpoint
    settings.downloads.ollama_site = sites.ollama.url
    settings.downloads.ollama_registry = sites.ollama.url  # no pulls run in these tests
    settings.downloads.token_source = TokenSource.SETTINGS
    yield from app_session(qapp, app_paths, settings)


def run_js(qtbot: QtBot, page: QWebEnginePage, code: str, world: int = APP_WORLD) -> object:
    results: list[object] = []
    page.runJavaScript(code, world, results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=10_000)
    return results[0]


def load(qtbot: QtBot, page: QWebEnginePage, url: str, *, bridge: bool = True) -> None:
    """Open ``url`` in the tab of ``page`` and wait for the page (and our script, when ``bridge``)."""
    with qtbot.waitSignal(page.loadFinished, timeout=20_000):
        page.setUrl(QUrl(url))
    if bridge:
        wait_js(qtbot, page, "document.documentElement.getAttribute('data-llama-wrangler-ready') === '1'")


def wait_js(qtbot: QtBot, page: QWebEnginePage, condition: str, world: int = APP_WORLD) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if run_js(qtbot, page, f"!!({condition})", world) is True:
            return
        qtbot.wait(50)
    raise AssertionError(f"never true in the page: {condition}")


def buttons(qtbot: QtBot, page: QWebEnginePage) -> list[str]:
    """The keys of our button groups on the page, in document order."""
    text = run_js(qtbot, page, "JSON.stringify(Array.from(document.querySelectorAll('[data-llama-wrangler=group]'))"
                               ".map(b => b.dataset.lwKey))")
    assert isinstance(text, str)
    return list(json.loads(text))


def click_get(qtbot: QtBot, page: QWebEnginePage, key: str) -> None:
    found = run_js(qtbot, page, f"""(() => {{
        const box = Array.from(document.querySelectorAll('[data-llama-wrangler=group]'))
            .find(b => b.dataset.lwKey === {json.dumps(key)});
        if (!box) return false;
        box.querySelector('[data-llama-wrangler=get]').click();
        return true;
    }})()""")
    assert found is True, f"no button for {key}"


def settle() -> None:
    QCoreApplication.processEvents()
