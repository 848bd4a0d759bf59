"""An Ollama name typed into the Add-model dialog: a real download job from the loopback registry (+ CDN),
shown on the Downloads page, resumed after quitting mid-way."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.origins import OllamaOrigin
from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import Settings
from llama_wrangler.ui.add_model_dialog import AddModelDialog
from llama_wrangler.workers.jobs import JobState
from tests.support.fake_hub import Fault
from tests.support.fake_ollama import FakeOllama, PublishedTag
from tests.support.gui import start_app, stop_app
from tests.support.ollama_models import TEXTS


def _settings(registry: FakeOllama) -> Settings:
    settings = Settings()
    settings.downloads.ollama_registry = registry.base
    return settings


def _inspect_in_dialog(wrangler: WranglerApp, text: str) -> AddModelDialog:
    wrangler.window.add_button.click()
    dialog = wrangler.window.findChild(AddModelDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.input.setText(text)
    dialog.inspect_button.click()
    return dialog


def _pull_from_dialog(wrangler: WranglerApp, text: str, qtbot: QtBot) -> AddModelDialog:
    """Inspect (the manifest: size and fit, before any download), then Download."""
    dialog = _inspect_in_dialog(wrangler, text)
    qtbot.waitUntil(lambda: dialog.download_button.isEnabled(), timeout=15_000)
    assert dialog.choices.topLevelItemCount() == 1
    dialog.download_button.click()
    return dialog


def test_an_ollama_name_downloads_into_the_library(qapp: QApplication, app_paths: AppPaths, qtbot: QtBot,
                                                   registry: FakeOllama, published: PublishedTag,
                                                   gguf_bytes: bytes) -> None:
    wrangler = start_app(qapp, app_paths, _settings(registry))
    try:
        dialog = _pull_from_dialog(wrangler, "https://ollama.com/library/llama3.2:1b", qtbot)
        assert not dialog.isVisible()
        assert wrangler.window.current_page_key() == "downloads"
        [job] = wrangler.jobs.jobs("download")
        assert job.title == "Download ollama:llama3.2:1b"
        qtbot.waitUntil(lambda: job.is_final, timeout=30_000)
        assert job.state == JobState.DONE, job.error
        qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == 1)
        [record] = wrangler.library.models()
        assert record.source == "ollama" and record.path.read_bytes() == gguf_bytes
        assert isinstance(record.origin, OllamaOrigin) and record.origin.license == TEXTS["license"]
    finally:
        stop_app(wrangler)


def test_a_bad_ollama_name_is_explained_in_the_dialog(qapp: QApplication, app_paths: AppPaths,
                                                      registry: FakeOllama) -> None:
    wrangler = start_app(qapp, app_paths, _settings(registry))
    try:
        dialog = _inspect_in_dialog(wrangler, "ollama:../../etc:passwd")
        assert dialog.isVisible()
        assert dialog.status.property("fieldError") is True
        assert "not a valid Ollama model name" in dialog.status.text()
        assert wrangler.jobs.jobs("download") == [] and registry.requests() == []
    finally:
        stop_app(wrangler)


def test_an_ollama_pull_interrupted_by_quitting_resumes_on_the_next_start(
        qapp: QApplication, app_paths: AppPaths, qtbot: QtBot, registry: FakeOllama, published: PublishedTag,
        gguf_bytes: bytes) -> None:
    registry.add_fault(published.model_digest, Fault.slow(len(gguf_bytes) // 8))
    first = start_app(qapp, app_paths, _settings(registry))
    try:
        _pull_from_dialog(first, "ollama:llama3.2:1b", qtbot)
        [job] = first.jobs.jobs("download")
        qtbot.waitUntil(lambda: job.last_progress is not None and job.last_progress.done > 0, timeout=15_000)
    finally:
        stop_app(first)
    assert first.library.models() == []
    registry.reset_counters()

    second = start_app(qapp, app_paths)
    try:
        [restored] = second.jobs.jobs("download")
        assert restored.title == "Download ollama:llama3.2:1b"
        qtbot.waitUntil(lambda: restored.is_final, timeout=30_000)
        assert restored.state == JobState.DONE, restored.error
        assert second.library.models()[0].path.read_bytes() == gguf_bytes
        ranges = [r.range for r in registry.requests("cdn") if published.model_digest in r.path]
        assert len(ranges) == 1 and ranges[0] is not None and ranges[0] != "bytes=0-"
    finally:
        stop_app(second)
