"""Start failures the supervisor reports before any process exists (no llama.cpp runtime needed)."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server import lifetime
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import PortConflict, ServerSettings


def start_and_capture(qtbot: QtBot, supervisor: ServerSupervisor, model: Path) -> tuple[str, list[str]]:
    states: list[str] = []
    supervisor.state_changed.connect(lambda old, new: states.append(new))
    with qtbot.waitSignal(supervisor.error, timeout=5000) as blocker:
        supervisor.start(model, "m")
    return str(blocker.args[0]), states


def test_missing_server_binary(qtbot: QtBot, tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    supervisor = ServerSupervisor(tmp_path / "no-llama-server", ServerSettings())
    message, states = start_and_capture(qtbot, supervisor, model)
    assert "llama-server was not found" in message
    assert states == ["crashed"]
    assert supervisor.last_error == message and supervisor.endpoint == "" and supervisor.pid is None
    supervisor.stop()
    assert supervisor.state is ServerState.STOPPED


def test_missing_model_file(qtbot: QtBot, tmp_path: Path) -> None:
    supervisor = ServerSupervisor(Path(sys.executable), ServerSettings())
    message, _ = start_and_capture(qtbot, supervisor, tmp_path / "gone.gguf")
    assert "does not exist" in message
    assert supervisor.state is ServerState.CRASHED


def test_busy_port_with_fail_policy_starts_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = ServerSettings(port=port, port_conflict=PortConflict.FAIL)
        supervisor = ServerSupervisor(Path(sys.executable), settings)
        message, states = start_and_capture(qtbot, supervisor, model)
    assert f"Port {port}" in message and "in use" in message
    assert states == ["crashed"]


def test_restart_with_nothing_to_restart_does_nothing(qtbot: QtBot) -> None:
    supervisor = ServerSupervisor(Path(sys.executable), ServerSettings())
    supervisor.restart()
    supervisor.stop()
    assert supervisor.state is ServerState.STOPPED
    assert supervisor.log_lines() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent-death signal exists only on Linux")
def test_linux_launches_through_a_parent_death_signal() -> None:
    # setpriv comes with util-linux, which every Linux has: missing, the server would outlive a killed app.
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv was not found: install util-linux (a killed app would leave its server running)"
    assert lifetime.launch_prefix() == [setpriv, "--pdeathsig", "KILL", "--"]


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="Linux launches through setpriv")
def test_other_platforms_launch_the_server_directly() -> None:
    assert lifetime.launch_prefix() == []
