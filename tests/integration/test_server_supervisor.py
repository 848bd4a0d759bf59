"""ServerSupervisor against the real llama-server and tiny real models."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server import restart_policy
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import PortConflict, ServerSettings
from tests.support.server_fixtures import TinyModels

pytestmark = pytest.mark.runtime

READY_TIMEOUT_MS = 60_000

SupervisorFactory = Callable[..., ServerSupervisor]


class Recorder:
    """Everything a supervisor said, in order."""

    def __init__(self, supervisor: ServerSupervisor) -> None:
        self.states: list[str] = []
        self.errors: list[str] = []
        self.endpoints: list[str] = []
        self.max_alive = 0
        supervisor.state_changed.connect(self._on_state)
        supervisor.error.connect(self.errors.append)
        supervisor.endpoint_changed.connect(self.endpoints.append)

    def _on_state(self, old: str, new: str) -> None:
        self.states.append(new)
        # At no state change may more than one of our llama-servers be alive.
        self.max_alive = max(self.max_alive, len(our_servers()))


def our_servers() -> list[psutil.Process]:
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() == "llama-server" and child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def make_supervisor(qtbot: QtBot, llama_server_binary: Path, app_paths: Any) -> Iterator[SupervisorFactory]:
    made: list[ServerSupervisor] = []

    def factory(**overrides: Any) -> ServerSupervisor:
        values: dict[str, Any] = {"port": pick_free_port("127.0.0.1"), "context_size": 512,
                                  "health_timeout_s": 60.0, "stop_grace_s": 3.0, "threads": 1}
        values.update(overrides)
        supervisor = ServerSupervisor(llama_server_binary, ServerSettings(**values),
                                      log_file=app_paths.server_log_file)
        made.append(supervisor)
        return supervisor

    yield factory
    for supervisor in made:
        supervisor.shutdown()
    assert our_servers() == []


def wait_state(qtbot: QtBot, supervisor: ServerSupervisor, state: ServerState,
               timeout: int = READY_TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: supervisor.state is state, timeout=timeout)


def test_start_reaches_ready_and_serves_a_real_completion(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels, app_paths: Any) -> None:
    supervisor = make_supervisor()
    record = Recorder(supervisor)
    with qtbot.waitSignal(supervisor.endpoint_changed, timeout=READY_TIMEOUT_MS):
        supervisor.start(tiny_models.alpha, "alpha")
    assert supervisor.state is ServerState.READY
    assert record.states[0] == "starting" and record.states[-1] == "ready"
    assert supervisor.endpoint == f"http://127.0.0.1:{supervisor.settings.port}"
    assert supervisor.model_id == "alpha"
    assert supervisor.context_size == 512  # read back from /props, not echoed from the settings
    assert Path(supervisor.props["model_path"]) == tiny_models.alpha

    response = httpx.post(f"{supervisor.endpoint}/v1/completions", timeout=30,
                          json={"model": "alpha", "prompt": "hello world", "max_tokens": 4})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "alpha"
    assert body["usage"]["completion_tokens"] > 0

    assert any("[llama-wrangler] starting alpha" in line for line in supervisor.log_lines())
    assert len(supervisor.log_lines()) > 5
    assert "starting alpha" in app_paths.server_log_file.read_text(encoding="utf-8")


def test_swap_replaces_the_process_and_props_name_the_new_model(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels) -> None:
    supervisor = make_supervisor()
    record = Recorder(supervisor)
    supervisor.start(tiny_models.alpha, "alpha")
    wait_state(qtbot, supervisor, ServerState.READY)
    first_pid = supervisor.pid
    assert first_pid is not None

    supervisor.start(tiny_models.beta, "beta")
    assert supervisor.endpoint == ""  # the old server stops serving the moment a swap begins
    qtbot.waitUntil(lambda: supervisor.state is ServerState.READY and supervisor.model_id == "beta",
                    timeout=READY_TIMEOUT_MS)
    assert Path(supervisor.props["model_path"]) == tiny_models.beta
    assert supervisor.props["default_generation_settings"]["n_ctx"] == 512
    assert supervisor.pid != first_pid
    assert gone(first_pid)
    models = httpx.get(f"{supervisor.endpoint}/v1/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == ["beta"]

    supervisor.start(tiny_models.alpha, "alpha")
    qtbot.waitUntil(lambda: supervisor.state is ServerState.READY and supervisor.model_id == "alpha",
                    timeout=READY_TIMEOUT_MS)
    assert Path(supervisor.props["model_path"]) == tiny_models.alpha
    assert record.max_alive == 1
    assert record.states.count("stopping") == 2


def test_two_swaps_in_a_row_end_on_the_last(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels) -> None:
    supervisor = make_supervisor()
    record = Recorder(supervisor)
    supervisor.start(tiny_models.alpha, "alpha")
    supervisor.start(tiny_models.beta, "beta")
    supervisor.start(tiny_models.alpha, "alpha")
    supervisor.start(tiny_models.beta, "beta")
    qtbot.waitUntil(lambda: supervisor.state is ServerState.READY, timeout=READY_TIMEOUT_MS)
    assert supervisor.model_id == "beta"
    assert Path(supervisor.props["model_path"]) == tiny_models.beta
    assert record.states.count("ready") == 1
    assert record.max_alive <= 1
    assert [p.pid for p in our_servers()] == [supervisor.pid]


def test_restart_applies_new_settings_in_a_fresh_process(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels) -> None:
    supervisor = make_supervisor()
    supervisor.start(tiny_models.alpha, "alpha")
    wait_state(qtbot, supervisor, ServerState.READY)
    old_pid = supervisor.pid
    assert old_pid is not None
    supervisor.set_settings(supervisor.settings.model_copy(update={"context_size": 1024}))
    supervisor.restart()
    qtbot.waitUntil(lambda: supervisor.state is ServerState.READY and supervisor.pid != old_pid,
                    timeout=READY_TIMEOUT_MS)
    assert supervisor.context_size == 1024
    assert supervisor.model_id == "alpha"
    assert gone(old_pid)


def test_stop_is_idempotent(qtbot: QtBot, make_supervisor: SupervisorFactory,
                            tiny_models: TinyModels) -> None:
    supervisor = make_supervisor()
    record = Recorder(supervisor)
    supervisor.start(tiny_models.alpha, "alpha")
    wait_state(qtbot, supervisor, ServerState.READY)
    pid = supervisor.pid
    assert pid is not None
    supervisor.stop()
    supervisor.stop()
    wait_state(qtbot, supervisor, ServerState.STOPPED)
    supervisor.stop()
    assert record.states[-2:] == ["stopping", "stopped"]
    assert record.states.count("stopped") == 1
    assert supervisor.endpoint == "" and supervisor.pid is None and supervisor.props == {}
    assert gone(pid)
    assert record.errors == []


def test_stop_during_load_ends_without_waiting_for_the_grace_period(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels) -> None:
    # A grace period far longer than the wait below: the stop must not depend on it.
    supervisor = make_supervisor(stop_grace_s=120.0)
    record = Recorder(supervisor)
    supervisor.start(tiny_models.alpha, "alpha")
    assert supervisor.state is ServerState.STARTING
    qtbot.waitUntil(lambda: supervisor.pid is not None, timeout=10_000)
    pid = supervisor.pid
    assert pid is not None
    supervisor.stop()
    wait_state(qtbot, supervisor, ServerState.STOPPED, timeout=20_000)
    assert "ready" not in record.states
    assert gone(pid)


def test_stop_while_loading_ends_the_load(
        qtbot: QtBot, make_supervisor: SupervisorFactory, held_loading_model: Path) -> None:
    # The load never finishes by itself, and the grace period outlasts the wait: only the stop ends it.
    supervisor = make_supervisor(stop_grace_s=120.0)
    record = Recorder(supervisor)
    pids: list[int] = []

    def stop_when_loading(old: str, new: str) -> None:
        if new == "loading":
            pids.append(supervisor.pid or 0)
            supervisor.stop()

    supervisor.state_changed.connect(stop_when_loading)
    supervisor.start(held_loading_model, "held")
    wait_state(qtbot, supervisor, ServerState.STOPPED, timeout=20_000)
    assert record.states == ["starting", "loading", "stopping", "stopped"]
    assert pids and pids[0] and gone(pids[0])
    assert record.errors == []


def test_swap_while_loading_never_reports_the_abandoned_model_ready(
        qtbot: QtBot, make_supervisor: SupervisorFactory, held_loading_model: Path,
        tiny_models: TinyModels) -> None:
    supervisor = make_supervisor()
    record = Recorder(supervisor)
    ready_models: list[str] = []
    supervisor.state_changed.connect(
        lambda old, new: ready_models.append(supervisor.props.get("model_path", "")) if new == "ready" else None)
    swapped: list[bool] = []

    def swap_when_loading(old: str, new: str) -> None:
        if new == "loading" and not swapped:
            swapped.append(True)
            supervisor.start(tiny_models.beta, "beta")

    supervisor.state_changed.connect(swap_when_loading)
    supervisor.start(held_loading_model, "held")
    qtbot.waitUntil(lambda: supervisor.state is ServerState.READY, timeout=READY_TIMEOUT_MS)
    assert swapped
    assert supervisor.model_id == "beta"
    assert [Path(p) for p in ready_models] == [tiny_models.beta]
    assert record.states[:4] == ["starting", "loading", "stopping", "stopped"]
    assert record.max_alive == 1


def test_corrupt_model_reports_an_early_exit_with_its_last_lines(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels) -> None:
    supervisor = make_supervisor()
    with qtbot.waitSignal(supervisor.error, timeout=READY_TIMEOUT_MS) as blocker:
        supervisor.start(tiny_models.corrupt, "corrupt")
    message = blocker.args[0]
    assert "exited during start" in message
    assert "Last output:" in message
    assert "load" in message.split("Last output:")[1]  # llama-server's own words about the failed load
    assert supervisor.state is ServerState.CRASHED
    assert supervisor.last_error == message
    assert supervisor.endpoint == ""
    supervisor.stop()  # acknowledging a crash returns to stopped
    assert supervisor.state is ServerState.STOPPED


def test_busy_port_fails_with_a_message_when_told_to(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels, busy_port: int) -> None:
    supervisor = make_supervisor(port=busy_port, port_conflict=PortConflict.FAIL)
    with qtbot.waitSignal(supervisor.error, timeout=5000) as blocker:
        supervisor.start(tiny_models.alpha, "alpha")
    assert f"Port {busy_port}" in blocker.args[0]
    assert supervisor.state is ServerState.CRASHED
    assert our_servers() == []


def test_busy_port_is_replaced_by_a_free_one_when_allowed(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels, busy_port: int) -> None:
    supervisor = make_supervisor(port=busy_port, port_conflict=PortConflict.PICK_FREE)
    supervisor.start(tiny_models.alpha, "alpha")
    wait_state(qtbot, supervisor, ServerState.READY)
    assert supervisor.endpoint.startswith("http://127.0.0.1:")
    assert not supervisor.endpoint.endswith(f":{busy_port}")
    assert httpx.get(f"{supervisor.endpoint}/health", timeout=10).status_code == 200


def test_sigkill_of_a_ready_server_is_a_crash_with_the_cause(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels) -> None:
    supervisor = make_supervisor(auto_restart=False)  # on by default; the cause is what is tried here
    supervisor.start(tiny_models.alpha, "alpha")
    wait_state(qtbot, supervisor, ServerState.READY)
    pid = supervisor.pid
    assert pid is not None
    with qtbot.waitSignal(supervisor.error, timeout=20_000) as blocker:
        os.kill(pid, signal.SIGKILL)
    assert "crashed (killed by a signal)" in blocker.args[0]
    assert "Last output:" in blocker.args[0]
    assert supervisor.state is ServerState.CRASHED
    assert supervisor.endpoint == ""
    assert not supervisor.restart_scheduled


def test_auto_restart_gives_up_after_three_crashes_a_minute(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restart_policy, "RESTART_BACKOFF_S", (0.05, 0.1, 0.2))
    supervisor = make_supervisor(auto_restart=True)
    record = Recorder(supervisor)
    supervisor.start(tiny_models.alpha, "alpha")
    pids = []
    for _ in range(3):
        wait_state(qtbot, supervisor, ServerState.READY)
        pids.append(supervisor.pid)
        os.kill(supervisor.pid or 0, signal.SIGKILL)
        qtbot.waitUntil(lambda: supervisor.state is not ServerState.READY, timeout=20_000)
    wait_state(qtbot, supervisor, ServerState.READY)  # the third restart
    assert len(set(pids)) == 3
    with qtbot.waitSignals([supervisor.error, supervisor.error], timeout=20_000):
        os.kill(supervisor.pid or 0, signal.SIGKILL)
    assert "not restarting" in record.errors[-1]
    assert supervisor.state is ServerState.CRASHED
    assert not supervisor.restart_scheduled
    assert record.states.count("ready") == 4


def test_health_deadline_stops_the_server_and_says_so(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels) -> None:
    supervisor = make_supervisor(health_timeout_s=0.001)
    with qtbot.waitSignal(supervisor.error, timeout=20_000) as blocker:
        supervisor.start(tiny_models.alpha, "alpha")
    assert "did not become ready within 0.001 s" in blocker.args[0]
    wait_state(qtbot, supervisor, ServerState.CRASHED)
    assert supervisor.pid is None
    assert our_servers() == []


def test_missing_model_file_is_a_clear_error(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tmp_path: Path) -> None:
    supervisor = make_supervisor()
    with qtbot.waitSignal(supervisor.error, timeout=5000) as blocker:
        supervisor.start(tmp_path / "nope.gguf", "nope")
    assert "does not exist" in blocker.args[0]
    assert supervisor.state is ServerState.CRASHED


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_order_of_calls_ends_consistent_with_at_most_one_server(
        qtbot: QtBot, make_supervisor: SupervisorFactory, tiny_models: TinyModels, seed: int) -> None:
    import random

    rng = random.Random(seed)  # noqa: S311  (a reproducible call order, not a secret)
    supervisor = make_supervisor()
    record = Recorder(supervisor)
    readies: list[tuple[str, str]] = []
    supervisor.state_changed.connect(
        lambda old, new: readies.append((supervisor.model_id, supervisor.props.get("model_path", "")))
        if new == "ready" else None)
    models = {"alpha": tiny_models.alpha, "beta": tiny_models.beta}
    for _ in range(8):
        action = rng.choice(["start", "swap", "stop", "restart"])
        name = rng.choice(list(models))
        if action in ("start", "swap"):  # a swap is a start while another model runs
            supervisor.start(models[name], name)
        elif action == "stop":
            supervisor.stop()
        else:
            supervisor.restart()
        qtbot.wait(rng.choice([0, 0, 5, 50, 200]))  # land calls in every phase: spawn, load, ready
    final = rng.choice(list(models))
    supervisor.start(models[final], final)
    qtbot.waitUntil(lambda: supervisor.state is ServerState.READY and supervisor.model_id == final,
                    timeout=READY_TIMEOUT_MS)
    assert Path(supervisor.props["model_path"]) == models[final]
    assert [p.pid for p in our_servers()] == [supervisor.pid]
    assert record.max_alive <= 1
    # Every "ready" described the server that was actually running at that moment.
    for model_id, model_path in readies:
        assert Path(model_path) == models[model_id]
    supervisor.stop()
    wait_state(qtbot, supervisor, ServerState.STOPPED)
    assert our_servers() == []
