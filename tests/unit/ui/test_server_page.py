"""The Server page tells the truth without a model running: the open endpoint and what it does with a
request, the API id with a copy button, a failure shown short, dated and cleared, and a log that keeps
following. (Serving itself, a crash and the picker following an API switch: tests/integration.)"""

from __future__ import annotations

from pathlib import Path

import httpx
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractSlider
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.state import ServerState
from llama_wrangler.settings import ImportMode
from llama_wrangler.ui.server_log import ServerLog, mark_internal
from llama_wrangler.ui.server_problem import explain
from tests.support.gguf_files import write_gguf

CRASH = """llama-server crashed (killed by signal 6). Last output:
srv  log_server_r: request: POST /v1/chat/completions 127.0.0.1 200
slot print_timing: id  0 | task 12 |
prompt eval time =      12.34 ms /     5 tokens (    2.47 ms per token,   405.19 tokens per second)
       eval time =      45.67 ms /    10 tokens (    4.57 ms per token,   218.96 tokens per second)
      total time =      58.01 ms /    15 tokens
slot      release: id  0 | task 12 | stop processing: n_past = 14, truncated = 0
srv  update_slots: all slots are idle
/src/ggml/ggml-cpu.c:1234: GGML_ASSERT(n_tokens <= n_batch) failed
terminate called after throwing an instance of 'std::runtime_error'
  what():  decode failed"""


def test_a_crash_is_explained_by_its_relevant_lines() -> None:
    problem = explain(CRASH)
    assert problem.summary == "llama-server crashed (killed by signal 6)."
    assert problem.lines == ("/src/ggml/ggml-cpu.c:1234: GGML_ASSERT(n_tokens <= n_batch) failed",
                             "terminate called after throwing an instance of 'std::runtime_error'",
                             "what():  decode failed")
    assert "eval time" not in problem.short_text() and "slot" not in problem.short_text()
    assert problem.full == CRASH


def test_without_a_telling_line_the_last_lines_are_shown() -> None:
    problem = explain("llama-server exited during start (exit code 1). Last output:\nline one\nline two\n"
                      "srv  update_slots: all slots are idle\nline three\nline four")
    assert problem.lines == ("line two", "line three", "line four")
    assert explain("The model file /x.gguf does not exist.").short_text() == \
        "The model file /x.gguf does not exist."
    # llama.cpp's info and warning lines explain nothing on their own (a server killed while it was fine).
    killed = explain("llama-server crashed (killed by a signal). Last output:\n"
                     "0.00.419.872 I srv  llama_server: model loaded\n"
                     "0.00.423.500 I srv  llama_server: listening on http://127.0.0.1:41513\n"
                     "0.00.017.048 W llama_context: n_ctx_seq (4096) > n_ctx_train (2048)")
    assert killed.lines == () and killed.short_text() == "llama-server crashed (killed by a signal)."


def test_the_internal_port_is_marked() -> None:
    public = "http://127.0.0.1:8080/v1"
    line = "main: server is listening on http://127.0.0.1:41234 - starting the main loop"
    assert mark_internal(line, public).endswith(f"← internal port; clients use {public}")
    assert mark_internal("[llama-wrangler] starting alpha on http://127.0.0.1:41234", public) != \
        "[llama-wrangler] starting alpha on http://127.0.0.1:41234"
    assert mark_internal("listening on http://127.0.0.1:8080", public) == "listening on http://127.0.0.1:8080"
    assert mark_internal(line, "") == line  # no endpoint in front: llama-server's port is the endpoint


def test_the_log_keeps_following_until_the_user_scrolls_up(qtbot: QtBot) -> None:
    log = ServerLog(lambda: "")
    qtbot.addWidget(log)
    log.resize(500, 300)
    log.show()
    bar = log.verticalScrollBar()
    for n in range(300):
        log.add_line(f"line {n}")
    assert bar.value() == bar.maximum() > 0
    log.resize(500, 150)  # something appeared above it (an error): the view got shorter
    assert bar.value() == bar.maximum(), "still at the newest line"
    log.add_line("after the crash")
    assert bar.value() == bar.maximum()
    bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)  # the user scrolls up to read
    held = bar.value()
    assert not log.following and held < bar.maximum()
    log.add_line("one more")
    assert bar.value() == held, "reading is not interrupted"
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)
    log.add_line("and another")
    assert log.following and bar.value() == bar.maximum()


def test_the_open_endpoint_says_what_it_does_with_a_request(wrangler: WranglerApp, qtbot: QtBot) -> None:
    page = wrangler.server_view
    assert page.endpoint.text() == "" and page.endpoint.placeholderText() == "Not open"
    assert "opens when you serve" in page.endpoint_note.text()
    assert not page.copy_button.isEnabled()
    current = wrangler.settings.settings
    server = current.server.model_copy(update={"port": pick_free_port("127.0.0.1")})
    wrangler.settings.update(current.model_copy(update={"server": server}))  # opens nothing by itself
    assert wrangler.stable.url == ""
    wrangler.stable.apply(server, opening=True)  # what serving does first
    page.refresh()
    url = wrangler.stable.url
    assert url and page.endpoint.text() == f"{url}/v1"
    assert page.copy_button.isEnabled()
    note = page.endpoint_note.text()
    assert "no model loaded" in note and "503" in note and "names a model" in note
    # And that is what it does.
    assert httpx.get(f"{url}/v1/models", timeout=10).status_code == 200
    chat = httpx.post(f"{url}/v1/chat/completions", timeout=10,
                      json={"messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 503
    page.copy_button.click()
    assert QGuiApplication.clipboard().text() == f"{url}/v1"
    wrangler.settings.update(wrangler.settings.settings)  # any settings change reads the endpoint again
    assert wrangler.window.server_status.text.text() == f"Server stopped · endpoint open at {url}"
    wrangler.stable.close()
    page.refresh()
    assert page.endpoint.text() == ""


def test_the_api_id_is_shown_with_a_copy_button(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    with qtbot.waitSignal(wrangler.actions.library_changed):
        wrangler.library.import_files([write_gguf(tmp_path / "alpha-F16.gguf", name="alpha")], ImportMode.LINK)
    page = wrangler.server_view
    qtbot.waitUntil(lambda: bool(page.model_combo.currentData()))
    model_id = str(page.model_combo.currentData())
    assert page.api_id.text() == model_id and page.api_id.isReadOnly()
    assert '"model"' in page.api_note.text()
    page.copy_id_button.click()
    assert QGuiApplication.clipboard().text() == model_id
    assert page.copy_id_button.text() == "Copied"


def test_a_failure_is_short_dated_and_cleared_when_stopped(wrangler: WranglerApp, qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    with qtbot.waitSignal(wrangler.actions.library_changed):
        [record] = wrangler.library.import_files([write_gguf(tmp_path / "m.gguf", name="m")], ImportMode.LINK)
    # A llama-server that fails at once (no model loads here), so the start fails the way a real one can.
    failing = tmp_path / "llama-server"
    failing.write_text("#!/bin/sh\necho 'error: this model cannot be loaded'\nexit 3\n", encoding="utf-8")
    failing.chmod(0o755)
    current = wrangler.settings.settings
    wrangler.settings.update(current.model_copy(update={
        "runtime": current.runtime.model_copy(update={"llama_server_path": failing}),
        "server": current.server.model_copy(update={"port": pick_free_port("127.0.0.1"), "auto_restart": False})}))
    page = wrangler.server_view
    with qtbot.waitSignal(wrangler.supervisor.error, timeout=20_000):
        wrangler.actions.serve(record.id)
    assert wrangler.supervisor.state == ServerState.CRASHED
    assert page.problem.isVisibleTo(page)
    stamp, _sep, text = page.problem.text().partition(" — ")
    assert len(stamp) == 8 and stamp.count(":") == 2 and "exit code 3" in text
    assert page.restart_button.isEnabled() and page.stop_button.isEnabled()
    box = wrangler.window.error_box
    assert box is not None and "exit code 3" in box.text()
    box.close()
    page.stop_button.click()
    assert wrangler.supervisor.state == ServerState.STOPPED
    assert not page.problem.isVisibleTo(page), "no stale error under “Server stopped”"
    assert page.state_label.text() == "Server stopped"
    assert not page.restart_button.isEnabled()
