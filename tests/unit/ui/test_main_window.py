"""Window-level behaviour: pages, the status bar, messages, and what closing does with and without a tray."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.paths import AppPaths
from llama_wrangler.ui.main_window import MINIMUM_SIZE


def test_pages_default_size_and_status_bar(wrangler: WranglerApp) -> None:
    window = wrangler.window
    assert (window.width(), window.height()) == (1280, 800)
    assert (MINIMUM_SIZE.width(), MINIMUM_SIZE.height()) == (1024, 640)
    pages = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert pages == ["Library", "Downloads", "Server", "llama.cpp", "Hugging Face", "Ollama", "Chat"]
    window.show_page("server")
    assert window.stack.currentWidget() is wrangler.server_view
    assert window.server_status.text.text() == "Server stopped"
    assert window.server_status.isVisible()


def test_info_goes_to_the_status_bar_and_errors_to_a_box(wrangler: WranglerApp, qtbot: QtBot) -> None:
    wrangler.messenger.info("Hello there")
    assert wrangler.window.statusBar().currentMessage() == "Hello there"
    wrangler.messenger.error("Something failed", details="more words")
    box = wrangler.window.error_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.text() == "Something failed" and box.detailedText() == "more words"
    box.close()


def test_a_bad_settings_file_is_reported_not_fatal(qapp: QApplication, app_paths: AppPaths,
                                                   qtbot: QtBot) -> None:
    from tests.support.gui import app_session

    app_paths.settings_file.write_text('{"server": {"port": "not a port"}}')
    session = app_session(qapp, app_paths)
    wrangler = next(session)
    try:
        assert wrangler.settings.settings.server.port == 8080, "defaults are in use"
        box = wrangler.window.error_box
        assert box is not None and box.isVisible()
        assert "server.port" in box.text() and "Default settings are in use" in box.text()
        assert list(app_paths.config_dir.glob("settings.json.bad-*")), "the bad file was kept aside"
    finally:
        session.close()


def test_background_hashing_waits_for_the_window(qapp: QApplication, app_paths: AppPaths,
                                                qtbot: QtBot) -> None:
    from llama_wrangler.library.origins import ModelSource
    from llama_wrangler.library.registry import Library
    from tests.support.gguf_files import write_gguf
    from tests.support.gui import stop_app

    path = write_gguf(app_paths.models_dir / "m-Q4_K_M.gguf")
    record = Library(app_paths, hash_in_background=False).load().add_owned(path, source=ModelSource.LOCAL)
    wrangler = WranglerApp(qapp, app_paths, tray_available=False)
    try:
        # An idle hasher and a still unhashed model: loading the library queued nothing.
        assert wrangler.library.wait_for_hashes(timeout=0)
        assert wrangler.library.get(record.id).sha256 is None
        wrangler.start()
        qtbot.waitUntil(lambda: wrangler.library.get(record.id).sha256 is not None, timeout=20_000)
    finally:
        stop_app(wrangler)


@pytest.fixture
def tray_wrangler(qapp: QApplication, app_paths: AppPaths) -> Iterator[WranglerApp]:
    from tests.support.gui import stop_app

    wrangler = WranglerApp(qapp, app_paths, tray_available=True)
    wrangler.window.show()
    yield wrangler
    stop_app(wrangler)


def test_closing_keeps_the_app_in_the_tray(tray_wrangler: WranglerApp, qtbot: QtBot) -> None:
    quits: list[bool] = []
    tray_wrangler.window.quit_requested.connect(lambda: quits.append(True))
    assert tray_wrangler.tray.available
    assert not tray_wrangler.app.quitOnLastWindowClosed()
    tray_wrangler.window.close()
    assert not tray_wrangler.window.isVisible()
    assert quits == []
    tray_wrangler.tray.show_action.trigger()
    assert tray_wrangler.window.isVisible()


def test_closing_quits_when_close_to_tray_is_off(tray_wrangler: WranglerApp, qtbot: QtBot) -> None:
    current = tray_wrangler.settings.settings
    ui = current.ui.model_copy(update={"close_to_tray": False})
    tray_wrangler.settings.update(current.model_copy(update={"ui": ui}))
    tray_wrangler.window.quit_requested.disconnect(tray_wrangler.app.quit)
    with qtbot.waitSignal(tray_wrangler.window.quit_requested):
        tray_wrangler.window.close()
