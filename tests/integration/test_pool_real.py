"""A model split across real llama.cpp RPC workers (``ggml-rpc-server`` from the pinned build) on
loopback ports: the workers' own protocol, completions across two of them, a worker down at start, a
worker killed mid-serve, and a worker of another build (a stand-in answering with another version)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.locate import runtime_from_dir
from llama_wrangler.runtime.rpc_protocol import PINNED_VERSION, probe_worker
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.server.worker import WorkerOptions, WorkerSupervisor
from llama_wrangler.services.pool import check_workers, rpc_plan
from llama_wrangler.services.pool_watch import PoolWatch
from llama_wrangler.settings import PoolSettings, ServerSettings
from tests.support.fake_rpc_worker import fake_worker
from tests.support.server_fixtures import TinyModels

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

READY_MS = 60_000
WorkerFactory = Callable[[], WorkerSupervisor]


@pytest.fixture(scope="session")
def runtime(runtime_dir: Path) -> LlamaRuntime:
    found = runtime_from_dir(runtime_dir)
    assert found.rpc_server is not None, "the pinned build must include ggml-rpc-server (GGML_RPC=ON)"
    return found


@pytest.fixture
def start_worker(qtbot: QtBot, runtime: LlamaRuntime, app_paths: AppPaths) -> Iterator[WorkerFactory]:
    made: list[WorkerSupervisor] = []

    def factory() -> WorkerSupervisor:
        assert runtime.rpc_server is not None
        worker = WorkerSupervisor(runtime.rpc_server, log_file=app_paths.worker_log_file)
        made.append(worker)
        worker.start(WorkerOptions(port=pick_free_port("127.0.0.1"), threads=1))
        qtbot.waitUntil(lambda: worker.state is ServerState.READY, timeout=READY_MS)
        return worker

    yield factory
    for worker in made:
        worker.shutdown()


@pytest.fixture
def make_supervisor(runtime: LlamaRuntime, app_paths: AppPaths) -> Iterator[Callable[[], ServerSupervisor]]:
    made: list[ServerSupervisor] = []

    def factory() -> ServerSupervisor:
        supervisor = ServerSupervisor(runtime, ServerSettings(port=pick_free_port("127.0.0.1"), context_size=256,
                                                              threads=1, health_timeout_s=120.0),
                                      log_file=app_paths.server_log_file)
        made.append(supervisor)
        return supervisor

    yield factory
    for supervisor in made:
        supervisor.shutdown()


def test_a_real_worker_speaks_the_pinned_protocol_and_offers_memory(start_worker: WorkerFactory) -> None:
    worker = start_worker()
    info = probe_worker(worker.options.address)
    assert info.version == PINNED_VERSION  # the constant we judge other workers by is the real one
    assert info.devices and info.free_bytes > 0


def test_a_model_split_across_two_workers_answers(
        qtbot: QtBot, start_worker: WorkerFactory, make_supervisor: Callable[[], ServerSupervisor],
        runtime: LlamaRuntime, tiny_models: TinyModels) -> None:
    first, second = start_worker(), start_worker()
    addresses = [first.options.address, second.options.address]
    statuses = check_workers(addresses, runtime)
    plan = rpc_plan(PoolSettings(workers=",".join(addresses)), statuses)
    lines: list[list[str]] = [[], []]
    first.log_line.connect(lines[0].append)
    second.log_line.connect(lines[1].append)
    supervisor = make_supervisor()
    supervisor.set_rpc(plan)
    supervisor.start(tiny_models.alpha, "alpha")
    qtbot.waitUntil(lambda: supervisor.state in (ServerState.READY, ServerState.CRASHED), timeout=READY_MS)
    assert supervisor.state is ServerState.READY, supervisor.last_error
    reply = httpx.post(f"{supervisor.endpoint}/v1/completions", timeout=60,
                       json={"prompt": "hello world", "max_tokens": 4})
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] > 0
    assert all(any("Accepted client connection" in line for line in worker_lines) for worker_lines in lines)


def test_a_worker_killed_mid_serve_is_reported_as_lost(
        qtbot: QtBot, start_worker: WorkerFactory, make_supervisor: Callable[[], ServerSupervisor],
        runtime: LlamaRuntime, tiny_models: TinyModels) -> None:
    first, second = start_worker(), start_worker()
    addresses = [first.options.address, second.options.address]
    supervisor = make_supervisor()
    supervisor.set_rpc(rpc_plan(PoolSettings(workers=",".join(addresses)), check_workers(addresses, runtime)))
    watch = PoolWatch(supervisor)
    supervisor.start(tiny_models.alpha, "alpha")
    qtbot.waitUntil(lambda: supervisor.state is ServerState.READY, timeout=READY_MS)
    second.stop()  # the worker goes away; llama-server finds out at its next computation
    qtbot.waitUntil(lambda: second.state is ServerState.STOPPED, timeout=20_000)
    # The request in flight dies with the server.
    with qtbot.waitSignal(watch.workers_lost, timeout=READY_MS) as lost, contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{supervisor.endpoint}/v1/completions", timeout=30,
                   json={"prompt": "hello world", "max_tokens": 4})
    assert lost.args[0] == [second.options.address]
    assert f"pool worker {second.options.address} was lost mid-serve" in lost.args[1]
    assert supervisor.state is ServerState.CRASHED


def _serve_pool(app_home: Path, runtime: LlamaRuntime, model: Path, workers: str) -> subprocess.CompletedProcess[str]:
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(runtime.server)}, "pool": {"workers": workers}}), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "llama_wrangler", "serve", str(model), "--pool",
                           "--port", str(pick_free_port("127.0.0.1"))],
                          capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)


def test_serve_refuses_a_pool_with_a_worker_down(app_home: Path, runtime: LlamaRuntime,
                                                 tiny_models: TinyModels) -> None:
    down = f"127.0.0.1:{pick_free_port('127.0.0.1')}"
    with fake_worker((7, 0, 0)) as up:
        result = _serve_pool(app_home, runtime, tiny_models.alpha, f"{up},{down}")
    assert result.returncode == 1
    assert f"{down}: The worker at {down} cannot be reached" in result.stderr
    assert "server: starting" not in result.stdout  # nothing was started


def test_serve_refuses_a_worker_of_another_build(app_home: Path, runtime: LlamaRuntime,
                                                 tiny_models: TinyModels) -> None:
    with fake_worker((6, 3, 1)) as other:
        result = _serve_pool(app_home, runtime, tiny_models.alpha, other)
    assert result.returncode == 1
    assert "speaks RPC protocol 6.3.1, this computer's llama.cpp (b11312) speaks 7.0.0" in result.stderr


def test_worker_command_runs_until_ctrl_c_and_guards_the_network(app_home: Path, runtime: LlamaRuntime) -> None:
    (app_home / "settings.json").write_text(json.dumps({"runtime": {"llama_server_path": str(runtime.server)}}),
                                            encoding="utf-8")
    exposed = subprocess.run([sys.executable, "-m", "llama_wrangler", "worker", "--host", "0.0.0.0"],  # noqa: S104
                             capture_output=True, text=True, timeout=60, check=False)
    assert exposed.returncode == 1 and "--expose" in exposed.stderr
    port = pick_free_port("127.0.0.1")
    child = subprocess.Popen([sys.executable, "-m", "llama_wrangler", "worker", "--port", str(port), "--threads", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if line.startswith("ready:"):
                assert f"llama-wrangler pool add 127.0.0.1:{port}" in line
                break
        assert probe_worker(f"127.0.0.1:{port}").version == PINNED_VERSION
        child.send_signal(signal.SIGINT)
        out, _err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0 and "worker: stopped" in out


def test_a_crashed_worker_is_restarted(qtbot: QtBot, start_worker: WorkerFactory) -> None:
    import psutil

    worker = start_worker()
    children = [child for child in psutil.Process().children(recursive=True) if child.name() == "ggml-rpc-server"]
    assert children
    for child in children:
        child.kill()
    qtbot.waitUntil(lambda: worker.state is ServerState.CRASHED, timeout=20_000)
    assert worker.restart_scheduled
    qtbot.waitUntil(lambda: worker.state is ServerState.READY, timeout=READY_MS)
    assert probe_worker(worker.options.address).version == PINNED_VERSION
