"""Per-model load settings reach the running llama-server on every path: the window (and the tray, which
calls the same ModelActions.serve), a load an API request triggers through the stable endpoint, and
``llama-wrangler serve``. The effect is read back from llama-server's own ``/props`` (its context per slot
and its slot count), not from our command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.model_needs import model_needs, prompt_cache_args
from llama_wrangler.settings import ImportMode, PortConflict, Settings
from tests.support.gui import app_session
from tests.support.tiny_models import write_tiny_llama_gguf

pytestmark = pytest.mark.runtime

READY_MS = 60_000
CHATML_MARK = "<|im_start|>"


@pytest.fixture(scope="module")
def roomy_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny models trained for 4,096 tokens (llama-server caps a context at the model's own)."""
    folder = tmp_path_factory.mktemp("load-models")
    return {name: write_tiny_llama_gguf(folder / f"{name}.gguf", name=name, seed=seed, n_ctx_train=4096)
            for name, seed in (("alpha", 1), ("beta", 2))}


def library_ids(paths: AppPaths, models: dict[str, Path]) -> dict[str, str]:
    records = Library(paths, hash_in_background=False).load().import_files(list(models.values()), ImportMode.LINK)
    return {record.path.stem: record.id for record in records}


def props(base_url: str) -> dict[str, Any]:
    reply = httpx.get(f"{base_url}/props", timeout=10)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def slots_and_context(base_url: str) -> tuple[int, int]:
    """(total slots, context per slot) as the running llama-server reports them."""
    data = props(base_url)
    return data["total_slots"], data["default_generation_settings"]["n_ctx"]


@pytest.fixture
def wrangler(qapp: QApplication, app_paths: AppPaths, llama_server_binary: Path,
             roomy_models: dict[str, Path]) -> Iterator[WranglerApp]:
    library_ids(app_paths, roomy_models)
    settings = Settings()
    settings.runtime.llama_server_path = llama_server_binary
    settings.server.port_conflict = PortConflict.PICK_FREE
    settings.server.context_size = 256  # the global settings: 256 tokens, one slot
    settings.server.threads = 1
    yield from app_session(qapp, app_paths, settings)


def command_line(pid: int) -> list[str]:
    """A running process's argv, as the OS has it."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def complete(qtbot: QtBot, wrangler: WranglerApp, model: str | None = None) -> httpx.Response:
    """A two-token completion through the stable endpoint, naming ``model`` (or none), sent from a thread
    while this one turns the Qt loop (a load on request needs it)."""
    replies: list[httpx.Response] = []
    body: dict[str, Any] = {"prompt": "hi", "max_tokens": 2, **({"model": model} if model else {})}
    worker = threading.Thread(target=lambda: replies.append(httpx.post(
        f"{wrangler.stable.url}/v1/completions", timeout=60, json=body)))
    worker.start()
    qtbot.waitUntil(lambda: bool(replies), timeout=READY_MS)
    worker.join()
    return replies[0]


def ready_with(wrangler: WranglerApp, model_id: str) -> bool:
    sup = wrangler.supervisor
    return sup.state is ServerState.READY and sup.model_id == model_id and bool(sup.endpoint)


def test_the_window_and_an_api_request_load_each_model_with_its_own_settings(
        wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    ids = {r.path.stem: r.id for r in wrangler.library.models()}
    alpha, beta = ids["alpha"], ids["beta"]
    actions = wrangler.actions
    assert actions.set_load_settings(alpha, LoadSettings(context_size=1024, parallel=2, chat_template="chatml"))
    template = tmp_path / "beta.jinja"
    template.write_text("{%- for m in messages -%}[[{{ m.content }}]]{%- endfor -%}", encoding="utf-8")
    assert actions.set_load_settings(beta, LoadSettings(context_size=1536, parallel=3,
                                                        chat_template=str(template)))

    # The window's Serve (the tray's menu calls the same ModelActions.serve).
    actions.serve(alpha)
    qtbot.waitUntil(lambda: ready_with(wrangler, alpha), timeout=READY_MS)
    assert slots_and_context(wrangler.supervisor.endpoint) == (2, 512)  # 1,024 tokens shared by 2 slots
    assert CHATML_MARK in props(wrangler.supervisor.endpoint)["chat_template"]

    # A request naming beta through the stable endpoint loads beta with beta's settings.
    url = wrangler.stable.url
    replies = [complete(qtbot, wrangler, beta)]  # the load needs this loop turning
    assert replies[0].status_code == 200, replies[0].text
    # Both fit, so beta is loaded beside alpha; the window keeps the user's model and switches to beta
    # without a reload when the user serves it.
    assert wrangler.supervisor.slot_of(beta) and ready_with(wrangler, alpha)
    # Beside each other, each server's prompt cache is bounded by its context's size (not llama-server's
    # 8 GiB each) and that bound is kept in the memory plan: read from the processes' own command lines.
    bounds = prompt_cache_args(model_needs(wrangler.library.models(), wrangler.settings.settings.server))
    assert set(bounds) == {alpha, beta} and all(0 < mib < 8192 for mib in bounds.values())
    for model in (alpha, beta):
        server = wrangler.supervisor.slots()[wrangler.supervisor.slot_of(model)]
        assert command_line(server.pid)[-2:] == ["--cache-ram", str(bounds[model])]
    listed = {entry["id"]: entry for entry in httpx.get(f"{url}/models", timeout=10).json()["data"]}
    resident = listed[beta]["resident"]
    assert resident["prompt_cache_limit_bytes"] == bounds[beta] * 1024 * 1024 < resident["estimate_bytes"]
    assert slots_and_context(url) == (2, 512)  # a request naming no model still gets alpha
    actions.serve(beta)
    qtbot.waitUntil(lambda: ready_with(wrangler, beta), timeout=READY_MS)
    assert slots_and_context(wrangler.supervisor.endpoint) == (3, 512)
    assert props(wrangler.supervisor.endpoint)["chat_template"] == template.read_text(encoding="utf-8")

    # Changing the served model's settings reloads it with them; a pin alone does not restart it.
    pid = wrangler.supervisor.pid
    assert actions.set_load_settings(beta, LoadSettings(context_size=1536, parallel=3, chat_template=str(template),
                                                        pinned=True, idle_ttl_s=60))
    assert wrangler.supervisor.state is ServerState.READY and wrangler.supervisor.pid == pid
    assert actions.set_load_settings(beta, LoadSettings(context_size=2048, parallel=4))
    qtbot.waitUntil(lambda: ready_with(wrangler, beta) and wrangler.supervisor.pid != pid, timeout=READY_MS)
    assert slots_and_context(wrangler.supervisor.endpoint) == (4, 512)
    assert "[[" not in props(wrangler.supervisor.endpoint)["chat_template"]  # the template file is no longer set

    # Back to the global settings for alpha: its stored settings are gone, so 256 tokens in one slot.
    assert actions.set_load_settings(alpha, LoadSettings())
    actions.serve(alpha)
    qtbot.waitUntil(lambda: ready_with(wrangler, alpha), timeout=READY_MS)
    assert slots_and_context(wrangler.supervisor.endpoint) == (1, 256)

    # `llama-wrangler configure` in a terminal while the app runs: Serve uses what it stored.
    Library(wrangler.paths, hash_in_background=False).load().set_load_settings(
        alpha, LoadSettings(context_size=512, parallel=2))
    actions.serve(alpha)
    qtbot.waitUntil(lambda: ready_with(wrangler, alpha) and slots_and_context(wrangler.supervisor.endpoint)
                    == (2, 256), timeout=READY_MS)


def test_serve_on_the_command_line_uses_stored_settings_and_its_options_win(
        app_home: Path, app_paths: AppPaths, llama_server_binary: Path, roomy_models: dict[str, Path]) -> None:
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(llama_server_binary)}, "server": {"context_size": 256}}),
        encoding="utf-8")
    ids = library_ids(app_paths, roomy_models)
    cli = [sys.executable, "-m", "llama_wrangler"]
    for model, options in (("alpha", ["--context", "1024", "--parallel", "2"]),
                           ("beta", ["--context", "3072", "--parallel", "4", "--chat-template", "chatml"])):
        done = subprocess.run([*cli, "configure", ids[model], *options], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ), check=False)
        assert done.returncode == 0, done.stderr

    def until_ready(child: subprocess.Popen[str]) -> str:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("ready:"):
                return line
        raise AssertionError(f"serve ended: {child.communicate(timeout=30)}")

    def serve(*options: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*cli, "serve", ids["alpha"], "--port", str(pick_free_port("127.0.0.1")),
                                 "--threads", "1", *options], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=dict(os.environ))

    child = serve()
    try:
        line = until_ready(child)
        match = re.search(r"ready: (http://127\.0\.0\.1:\d+)\s+model=(\S+)\s+n_ctx=512", line)
        assert match and match.group(2) == ids["alpha"], line
        url = match.group(1)
        assert slots_and_context(url) == (2, 512)  # the stable endpoint relays /props to llama-server
        # An API request naming beta: serve's load-on-request path, with beta's own settings.
        reply = httpx.post(f"{url}/v1/completions", timeout=60,
                           json={"model": ids["beta"], "prompt": "hi", "max_tokens": 2})
        assert reply.status_code == 200, reply.text
        beta = httpx.get(f"{url}/props", params={"model": ids["beta"]}, timeout=30).json()  # routed by name
        assert (beta["total_slots"], beta["default_generation_settings"]["n_ctx"]) == (4, 768)  # 3,072 / 4 slots
        assert CHATML_MARK in beta["chat_template"]
        assert slots_and_context(url) == (2, 512)  # alpha, beside it, keeps its own
    finally:
        child.terminate()
        child.communicate(timeout=60)

    # serve's own options win over the stored ones, for this run only.
    child = serve("--ctx", "2048")
    try:
        line = until_ready(child)
        url = line.split()[1]
        assert slots_and_context(url) == (2, 1024)
    finally:
        child.terminate()
        child.communicate(timeout=60)
    stored = Library(app_paths, hash_in_background=False).load().get(ids["alpha"]).load
    assert stored == LoadSettings(context_size=1024, parallel=2)


def test_a_model_loaded_beside_the_served_one_reloads_with_new_settings_and_goes_when_removed(
        wrangler: WranglerApp, qtbot: QtBot) -> None:
    ids = {r.path.stem: r.id for r in wrangler.library.models()}
    alpha, beta = ids["alpha"], ids["beta"]
    actions, fleet = wrangler.actions, wrangler.supervisor
    actions.serve(alpha)
    qtbot.waitUntil(lambda: ready_with(wrangler, alpha), timeout=READY_MS)
    replies = [complete(qtbot, wrangler, beta)]  # the load needs this loop turning
    assert replies[0].status_code == 200, replies[0].text
    beside = fleet.slots()[fleet.slot_of(beta)]
    alpha_pid, beta_pid = fleet.pid, beside.pid
    assert slots_and_context(beside.endpoint) == (1, 256)

    # New settings for beta, loaded beside (not the window's model): it reloads with them, in its place.
    before = prompt_cache_args(model_needs(wrangler.library.models(), wrangler.settings.settings.server))
    assert actions.set_load_settings(beta, LoadSettings(context_size=4096, parallel=2))
    qtbot.waitUntil(lambda: beside.state is ServerState.READY and beside.pid not in (0, beta_pid),
                    timeout=READY_MS)
    assert slots_and_context(beside.endpoint) == (2, 2048)
    assert ready_with(wrangler, alpha) and fleet.pid == alpha_pid  # the window's model was left alone
    bounds = prompt_cache_args(model_needs(wrangler.library.models(), wrangler.settings.settings.server))
    assert bounds[beta] > before[beta]  # a longer context keeps a bigger prompt cache...
    assert command_line(beside.pid)[-2:] == ["--cache-ram", str(bounds[beta])]  # ...and the server has it

    # Removing beta from the library unloads it first (its file may be deleted next).
    assert actions.remove(beta, delete_file=False)
    qtbot.waitUntil(lambda: not fleet.slot_of(beta), timeout=READY_MS)
    assert ready_with(wrangler, alpha) and fleet.pid == alpha_pid


def test_restart_applies_new_global_arguments_to_a_model_with_a_bounded_prompt_cache(
        wrangler: WranglerApp, qtbot: QtBot) -> None:
    """The Server page's Restart applies new settings: the prompt cache bound added beside others must
    not freeze the global arguments the model was first started with."""
    alpha = {r.path.stem: r.id for r in wrangler.library.models()}["alpha"]
    wrangler.actions.serve(alpha)
    qtbot.waitUntil(lambda: ready_with(wrangler, alpha), timeout=READY_MS)
    pid = wrangler.supervisor.pid
    assert pid is not None and "--cache-ram" in command_line(pid)
    current = wrangler.settings.settings
    wrangler.settings.update(current.model_copy(update={
        "server": current.server.model_copy(update={"extra_args": "--no-warmup"})}))
    wrangler.supervisor.restart()
    qtbot.waitUntil(lambda: ready_with(wrangler, alpha) and wrangler.supervisor.pid not in (None, pid),
                    timeout=READY_MS)
    argv = command_line(wrangler.supervisor.pid or 0)
    assert "--no-warmup" in argv and argv.count("--cache-ram") == 1


def test_removing_the_served_model_leaves_the_one_loaded_beside_it_serving(
        wrangler: WranglerApp, qtbot: QtBot) -> None:
    ids = {r.path.stem: r.id for r in wrangler.library.models()}
    alpha, beta = ids["alpha"], ids["beta"]
    fleet = wrangler.supervisor
    wrangler.actions.serve(alpha)
    qtbot.waitUntil(lambda: ready_with(wrangler, alpha), timeout=READY_MS)
    replies = [complete(qtbot, wrangler, beta)]  # the load needs this loop turning
    assert replies[0].status_code == 200, replies[0].text
    beta_pid = fleet.slots()[fleet.slot_of(beta)].pid

    assert wrangler.actions.remove(alpha, delete_file=False)
    qtbot.waitUntil(lambda: not fleet.slot_of(alpha) and ready_with(wrangler, beta), timeout=READY_MS)
    assert fleet.pid == beta_pid  # beta was not reloaded; it is the model the window shows now
    answers = [complete(qtbot, wrangler)]  # the load needs this loop turning
    assert answers[0].status_code == 200 and answers[0].json()["model"] == beta  # requests naming none get beta
