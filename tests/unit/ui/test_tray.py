"""The tray menu and its actions, driven directly (offscreen has no tray host)."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.errors import DownloadError
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.settings import ImportMode
from llama_wrangler.workers.jobs import Job
from tests.support.gguf_files import write_gguf


def _labels(wrangler: WranglerApp) -> list[str]:
    return [a.text() for a in wrangler.tray.menu.actions() if not a.isSeparator()]


def _add_models(wrangler: WranglerApp, tmp_path: Path, *names: str) -> None:
    files = [write_gguf(tmp_path / f"{name}.gguf", name=name) for name in names]
    wrangler.library.import_files(files, ImportMode.LINK)


def test_no_tray_host_means_no_icon_and_closing_quits(wrangler: WranglerApp) -> None:
    assert not wrangler.tray.available
    assert wrangler.app.quitOnLastWindowClosed()
    assert not wrangler._keep_in_tray()


def test_menu_lists_models_and_the_fixed_actions(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    assert _labels(wrangler) == ["Server stopped", "No models yet", "Unload", "Stop server",
                                 "Run as a pool worker", "Show window", "Quit"]
    assert not wrangler.tray.unload_menu.isEnabled(), "nothing loaded"
    with qtbot.waitSignal(wrangler.actions.library_changed):
        _add_models(wrangler, tmp_path, "alpha", "beta")
    qtbot.waitUntil(lambda: len(wrangler.tray.model_actions) == 2)
    labels = _labels(wrangler)
    assert labels[0] == "Server stopped"
    assert sorted(labels[1:3]) == sorted(a.text() for a in wrangler.tray.model_actions.values())
    assert labels[3:] == ["Unload", "Stop server", "Run as a pool worker", "Show window", "Quit"]
    assert all(a.isCheckable() and not a.isChecked() for a in wrangler.tray.model_actions.values())
    assert not wrangler.tray.stop_action.isEnabled(), "nothing to stop"
    assert wrangler.tray.tooltip == "Llama Wrangler — Server stopped"


def test_show_window_and_quit_actions(wrangler: WranglerApp, qtbot: QtBot) -> None:
    wrangler.window.hide()
    wrangler.tray.show_action.trigger()
    assert wrangler.window.isVisible()
    with qtbot.waitSignal(wrangler.tray.quit_requested):
        # Not connected to a real quit here: the test's event loop must keep running.
        wrangler.tray.quit_requested.disconnect(wrangler.app.quit)
        wrangler.tray.quit_action.trigger()


def test_choosing_a_model_asks_the_supervisor_to_serve_it(wrangler: WranglerApp, qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    _add_models(wrangler, tmp_path, "gamma")
    qtbot.waitUntil(lambda: len(wrangler.tray.model_actions) == 1)
    action: QAction = next(iter(wrangler.tray.model_actions.values()))
    # No llama.cpp runtime in unit tests: choosing a model says llama.cpp is needed, in its own words —
    # the server is not started, so it never "crashes" (the real swap runs in tests/integration/test_gui_serve.py).
    with qtbot.waitSignal(wrangler.messenger.shown) as blocker:
        action.trigger()
    assert "llama.cpp is needed to run models" in blocker.args[1]
    assert wrangler.supervisor.state == "stopped"
    assert wrangler.tray.status_action.text() == "Server stopped"
    assert not action.isChecked(), "a model that is not served is not checked"


def test_notifications_for_finished_and_failed_downloads(wrangler: WranglerApp, qtbot: QtBot) -> None:
    gate = threading.Event()

    def ok(_progress: ProgressCallback, cancel: CancelToken) -> object:
        while not gate.wait(0.01):
            cancel.raise_if_cancelled()
        return None

    def broken(_progress: ProgressCallback, _cancel: CancelToken) -> object:
        raise DownloadError("disk full")

    with qtbot.waitSignal(wrangler.tray.notified) as blocker:
        wrangler.jobs.submit(Job("download", "org/repo · Q4_K_M", ok))
        gate.set()
    assert blocker.args == ["Download finished", "org/repo · Q4_K_M is in your library."]
    with qtbot.waitSignal(wrangler.tray.notified) as blocker:
        wrangler.jobs.submit(Job("download", "org/other · Q8_0", broken))
    assert blocker.args == ["Download failed", "org/other · Q8_0: disk full"]


def test_notifications_can_be_turned_off(wrangler: WranglerApp, qtbot: QtBot) -> None:
    wrangler.tray.notifications = False
    seen: list[tuple[str, str]] = []
    wrangler.tray.notified.connect(lambda title, text: seen.append((title, text)))
    job = wrangler.jobs.submit(Job("download", "quiet", lambda _p, _c: None))
    qtbot.waitUntil(lambda: job.is_final)
    assert seen == []


def test_tray_icon_carries_the_state_dot(qapp: object) -> None:
    from llama_wrangler.ui.tray import tray_icon_for

    def corner(state: str) -> str:
        image = tray_icon_for(state).pixmap(64, 64).toImage()
        return image.pixelColor(50, 50).name()  # the middle of the dot

    assert corner("ready") == "#22a55b"  # state-ready.svg's green
    assert corner("crashed") == "#e5484d"
    assert corner("stopped") not in {"#22a55b", "#e5484d"}
