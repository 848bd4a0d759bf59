"""Serve, hot-swap and stop through the window and the tray menu, with the real llama-server and tiny
real models."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.server.state import ServerState
from llama_wrangler.settings import ImportMode, PortConflict, Settings
from llama_wrangler.ui.library_model import Column
from llama_wrangler.ui.server_view import SERVED_MARK
from tests.support.gui import app_session
from tests.support.server_fixtures import TinyModels

pytestmark = pytest.mark.runtime

READY_MS = 60_000


@pytest.fixture
def wrangler(qapp: QApplication, app_paths: AppPaths, llama_server_binary: Path,
             tiny_models: TinyModels) -> Iterator[WranglerApp]:
    Library(app_paths, hash_in_background=False).load().import_files(
        [tiny_models.alpha, tiny_models.beta], ImportMode.LINK)
    settings = Settings()
    settings.runtime.llama_server_path = llama_server_binary
    settings.server.port_conflict = PortConflict.PICK_FREE
    settings.server.context_size = 256
    settings.server.threads = 1
    yield from app_session(qapp, app_paths, settings)


def _ready_with(wrangler: WranglerApp, model_id: str) -> bool:
    sup = wrangler.supervisor
    return sup.state == ServerState.READY and sup.model_id == model_id and bool(sup.endpoint)


def test_serve_swap_and_stop_through_the_ui(wrangler: WranglerApp, qtbot: QtBot) -> None:
    ids = {r.path.stem: r.id for r in wrangler.library.models()}
    alpha, beta = ids["alpha"], ids["beta"]

    notes: list[tuple[str, str]] = []
    wrangler.tray.notified.connect(lambda title, text: notes.append((title, text)))

    # Serve from the library page: select the row, press Serve in the details pane.
    view = wrangler.library_view
    assert view.select(alpha)
    assert view.details.serve_button.text() == "&Serve"
    view.details.serve_button.click()
    qtbot.waitUntil(lambda: _ready_with(wrangler, alpha), timeout=READY_MS)
    # What every place shows is the stable endpoint (the proxy), not llama-server's own port.
    endpoint = wrangler.supervisor.client_endpoint
    assert endpoint == wrangler.stable.url and endpoint != wrangler.supervisor.endpoint
    assert endpoint.startswith("http://127.0.0.1:")
    assert httpx.get(f"{endpoint}/v1/models", timeout=10).status_code == 200
    assert ("Model ready", f"alpha is being served at {endpoint}.") in notes

    # Every place that shows the server agrees.
    status = wrangler.window.server_status
    assert status.state == "ready" and endpoint in status.text.text() and "alpha" in status.text.text()
    row = view.model.row_of(alpha)
    assert view.model.index(row, Column.SERVING).data() == "Serving"
    assert view.details.serve_button.text() == "&Stop serving"
    server_page = wrangler.server_view
    assert server_page.endpoint.text() == f"{endpoint}/v1"
    assert server_page.context_size.text() == "256 tokens", "the real n_ctx from /props"
    assert "alpha" in server_page.state_label.text()
    qtbot.waitUntil(lambda: "llama-server" in server_page.log.toPlainText() or
                    "llama" in server_page.log.toPlainText())
    server_page.copy_button.click()
    assert QGuiApplication.clipboard().text() == f"{endpoint}/v1"
    assert wrangler.tray.model_actions[alpha].isChecked()
    assert not wrangler.tray.model_actions[beta].isChecked()
    assert wrangler.tray.stop_action.isEnabled()

    # Hot-swap from the tray menu.
    wrangler.tray.model_actions[beta].trigger()
    qtbot.waitUntil(lambda: _ready_with(wrangler, beta), timeout=READY_MS)
    assert wrangler.tray.model_actions[beta].isChecked()
    assert not wrangler.tray.model_actions[alpha].isChecked()
    assert "beta" in wrangler.tray.tooltip
    assert wrangler.supervisor.client_endpoint == endpoint  # the same address across the swap
    props = httpx.get(f"{endpoint}/props", timeout=10).json()
    assert Path(props["model_path"]).stem == "beta"
    assert view.model.index(view.model.row_of(beta), Column.SERVING).data() == "Serving"
    # Both fit: alpha stays loaded beside beta (no reload if the user switches back), and says so.
    assert view.model.index(view.model.row_of(alpha), Column.SERVING).data() == "Serving"
    assert wrangler.tray.model_actions[alpha].text().endswith("· loaded")

    # Stop from the server page: every loaded model stops.
    assert server_page.stop_button.isEnabled()
    server_page.stop_button.click()
    qtbot.waitUntil(lambda: wrangler.supervisor.state == ServerState.STOPPED, timeout=30_000)
    assert status.text.text() == f"Server stopped · endpoint open at {endpoint}"
    assert not any(a.isChecked() for a in wrangler.tray.model_actions.values())
    qtbot.waitUntil(lambda: not wrangler.tray.loaded_models(), timeout=30_000)
    assert view.model.index(view.model.row_of(alpha), Column.SERVING).data() == ""
    # The stable endpoint stays open after a stop, and the page says so (and what it does now).
    assert server_page.endpoint.text() == f"{endpoint}/v1"
    assert "no model loaded" in server_page.endpoint_note.text()
    assert httpx.get(f"{endpoint}/v1/models", timeout=10).status_code == 200
    assert not wrangler.tray.stop_action.isEnabled()


def test_a_server_that_fails_to_start_is_reported(wrangler: WranglerApp, qtbot: QtBot) -> None:
    current = wrangler.settings.settings
    server = current.server.model_copy(update={"extra_args": "--no-such-llama-flag"})
    wrangler.settings.update(current.model_copy(update={"server": server}))
    model = wrangler.library.models()[0]
    with qtbot.waitSignal(wrangler.tray.notified, timeout=READY_MS) as note, \
            qtbot.waitSignal(wrangler.supervisor.error, timeout=READY_MS) as blocker:
        wrangler.actions.serve(model.id)
    assert note.args[0] == "Server problem" and "exited during start" in note.args[1]
    assert "exited during start" in blocker.args[0]
    box = wrangler.window.error_box
    assert box is not None and box.isVisible()
    assert "exited during start" in box.text()
    assert wrangler.window.server_status.state == "crashed"
    problem = wrangler.server_view.problem
    assert problem.isVisibleTo(wrangler.server_view)
    assert "exited during start" in problem.text() and "no-such-llama-flag" in problem.text()
    # Short and current: a time, the one-line summary and the lines that explain it, not 40 lines.
    assert len(problem.text().splitlines()) <= 7
    assert box.text().startswith("llama-server exited during start") and not box.text().rstrip().endswith(":")
    assert wrangler.server_view.restart_button.isEnabled(), "Restart is what a user wants now"
    assert "no-such-llama-flag" in wrangler.server_view.log.toPlainText()


def test_requantize_from_the_details_pane(wrangler: WranglerApp, qtbot: QtBot) -> None:
    from llama_wrangler.ui.requantize_dialog import RequantizeDialog

    source = next(r for r in wrangler.library.models() if r.path.stem == "alpha")
    assert source.info.quant == "F32"
    view = wrangler.library_view
    assert view.select(source.id)
    assert view.details.requantize_button.isEnabled()
    view.details.requantize_button.click()
    dialog = wrangler.window.findChild(RequantizeDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.quant.setCurrentIndex(dialog.quant.findData("Q8_0"))
    dialog.accept()
    assert wrangler.window.current_page_key() == "downloads"
    qtbot.waitUntil(lambda: any(r.info.quant == "Q8_0" for r in wrangler.library.models()), timeout=60_000)
    made = next(r for r in wrangler.library.models() if r.info.quant == "Q8_0")
    assert made.owned and made.source == "convert"
    assert made.size_bytes < source.size_bytes
    row = next(iter(wrangler.downloads_view.rows.values()))
    qtbot.waitUntil(lambda: row.status.text().startswith("Done"))
    # A quantized model is not offered for re-quantizing again.
    qtbot.waitUntil(lambda: view.select(made.id))  # the page refreshes right after the library changes
    qtbot.waitUntil(lambda: view.details.record is not None and view.details.record.id == made.id)
    assert not view.details.requantize_button.isEnabled()


def _one_model_at_a_time(wrangler: WranglerApp) -> None:
    current = wrangler.settings.settings
    wrangler.settings.update(current.model_copy(update={
        "server": current.server.model_copy(update={"max_models": 1})}))


def _serve_alpha_then_ask_for_beta(wrangler: WranglerApp, qtbot: QtBot) -> dict[str, str]:
    """The user serves alpha; then a client's request names beta (answered 200). The library's ids by stem."""
    ids = {r.path.stem: r.id for r in wrangler.library.models()}
    wrangler.actions.serve(ids["alpha"])
    qtbot.waitUntil(lambda: _ready_with(wrangler, ids["alpha"]), timeout=READY_MS)
    url = wrangler.stable.url
    replies: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: replies.append(httpx.post(
        f"{url}/v1/completions", timeout=60, json={"model": ids["beta"], "prompt": "hi", "max_tokens": 2})))
    worker.start()
    qtbot.waitUntil(lambda: bool(replies), timeout=READY_MS)  # the swap or load needs this loop turning
    worker.join()
    assert replies[0].status_code == 200, replies[0].text
    return ids


def test_with_one_model_at_a_time_an_api_request_switches_the_app_to_its_model(
        wrangler: WranglerApp, qtbot: QtBot) -> None:
    _one_model_at_a_time(wrangler)
    ids = _serve_alpha_then_ask_for_beta(wrangler, qtbot)
    assert wrangler.supervisor.model_id == ids["beta"]
    page = wrangler.server_view
    # The picker follows the client's choice and marks it; it offers no "Switch" back to alpha.
    qtbot.waitUntil(lambda: page.model_combo.currentData() == ids["beta"])
    assert page.model_combo.currentText().startswith(SERVED_MARK)
    assert not page.model_combo.itemText(page.model_combo.findData(ids["alpha"])).startswith(SERVED_MARK)
    assert not page.start_button.isEnabled() and page.start_button.text() == "&Start"
    assert "beta" in page.state_label.text()
    assert page.api_id.text() == ids["beta"]
    assert page.endpoint.text() == f"{wrangler.stable.url}/v1" and page.endpoint_note.text().startswith("Answering")


def test_a_runtime_set_while_the_app_runs_is_used(qapp: QApplication, app_paths: AppPaths,
                                                  llama_server_binary: Path, tiny_models: TinyModels,
                                                  qtbot: QtBot) -> None:
    [record] = Library(app_paths, hash_in_background=False).load().import_files(
        [tiny_models.alpha], ImportMode.LINK)
    session = app_session(qapp, app_paths)  # no runtime configured: the app still opens
    wrangler = next(session)
    try:
        # Without a runtime, serving says llama.cpp is needed and starts nothing (no "crashed" server).
        with qtbot.waitSignal(wrangler.messenger.shown) as shown:
            wrangler.actions.serve(record.id)
        assert "llama.cpp is needed to run models" in shown.args[1]
        assert wrangler.supervisor.state == ServerState.STOPPED
        current = wrangler.settings.settings
        runtime = current.runtime.model_copy(update={"llama_server_path": llama_server_binary})
        server = current.server.model_copy(update={"context_size": 256, "threads": 1})
        wrangler.settings.update(current.model_copy(update={"runtime": runtime, "server": server}))
        wrangler.actions.serve(record.id)
        qtbot.waitUntil(lambda: _ready_with(wrangler, record.id), timeout=READY_MS)
    finally:
        session.close()


def test_a_crash_is_shown_short_with_the_countdown_and_cleared_when_it_recovers(
        wrangler: WranglerApp, qtbot: QtBot) -> None:
    current = wrangler.settings.settings
    wrangler.settings.update(current.model_copy(update={
        "server": current.server.model_copy(update={"auto_restart": True})}))
    alpha = next(r.id for r in wrangler.library.models() if r.path.stem == "alpha")
    page = wrangler.server_view
    wrangler.window.show_page("server")
    wrangler.actions.serve(alpha)
    qtbot.waitUntil(lambda: _ready_with(wrangler, alpha), timeout=READY_MS)
    # llama-server's own port is marked: only the stable endpoint is for clients.
    qtbot.waitUntil(lambda: "internal port; clients use" in page.log.toPlainText())
    pid = wrangler.supervisor.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    qtbot.waitUntil(lambda: page.restart_note.isVisibleTo(page), timeout=10_000)
    assert page.restart_note.text().startswith("Restarting in ")
    assert page.problem.isVisibleTo(page) and "crashed" in page.problem.text()
    assert len(page.problem.text().splitlines()) <= 7, "short: the summary and the lines that matter"
    assert page.restart_button.isEnabled() and page.stop_button.isEnabled()
    box = wrangler.window.error_box
    assert box is not None and box.isVisible() and not box.text().rstrip().endswith("Last output:")

    qtbot.waitUntil(lambda: _ready_with(wrangler, alpha), timeout=READY_MS)
    assert not page.problem.isVisibleTo(page), "the server recovered: no stale failure"
    assert not page.restart_note.isVisibleTo(page)
    assert not box.isVisible()
    assert "crashed" in wrangler.window.messages.messages[-1].text or any(
        "crashed" in m.text for m in wrangler.window.messages.messages), "kept in Messages"
    bar = page.log.verticalScrollBar()
    assert page.log.following and bar.value() == bar.maximum(), "the log still follows after the crash"


def test_an_api_request_loads_its_model_beside_the_users_and_the_page_lists_both(
        wrangler: WranglerApp, qtbot: QtBot) -> None:
    ids = _serve_alpha_then_ask_for_beta(wrangler, qtbot)
    assert wrangler.supervisor.model_id == ids["alpha"]  # the window keeps the user's model
    panel = wrangler.residents
    wrangler.window.show_page("server")
    qtbot.waitUntil(lambda: sorted(panel.models()) == sorted([ids["alpha"], ids["beta"]]), timeout=READY_MS)
    row = panel.models().index(ids["beta"])
    qtbot.waitUntil(lambda: panel.table.item(row, 1).text() == "ready", timeout=READY_MS)  # polled each second
    assert " / " in panel.table.item(row, 2).text()
    assert panel.table.item(row, 4).text().startswith("in ")  # a request loaded it: it has an idle TTL
    library = wrangler.library_view.model  # the library marks both as serving
    serving = [library.data(library.index(library.row_of(ids[name]), Column.SERVING)) for name in ("alpha", "beta")]
    assert serving == ["Serving", "Serving"]
    tray = wrangler.tray
    assert sorted(tray.loaded_models()) == sorted([ids["alpha"], ids["beta"]])
    assert tray.model_actions[ids["beta"]].text().endswith("· loaded")
    # Unload from the tray: beta's server stops, alpha keeps serving.
    next(a for a in tray.unload_menu.actions() if "beta" in a.text()).trigger()
    qtbot.waitUntil(lambda: panel.models() == [ids["alpha"]], timeout=READY_MS)
    assert _ready_with(wrangler, ids["alpha"])
    assert not library.data(library.index(library.row_of(ids["beta"]), Column.SERVING))
