"""The app's stable endpoint follows the settings (no model served: no runtime needed)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.errors import ModelNotFoundError
from llama_wrangler.server.ports import pick_free_port, port_is_free
from llama_wrangler.server.stable_service import StableEndpointService
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import PortConflict, ServerSettings


def no_models(model_id: str) -> tuple[Path, str]:
    raise ModelNotFoundError(f"No model {model_id}.")


@pytest.fixture
def service(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[StableEndpointService, ServerSupervisor]]:
    supervisor = ServerSupervisor(tmp_path / "llama-server", ServerSettings())
    made = StableEndpointService(supervisor, no_models)
    yield made, supervisor
    made.close()


def test_the_endpoint_opens_on_serve_and_moves_with_the_port(
        service: tuple[StableEndpointService, ServerSupervisor]) -> None:
    stable, supervisor = service
    first = ServerSettings(port=pick_free_port("127.0.0.1"))
    stable.apply(first, opening=False)
    assert stable.url == ""  # nothing served yet: no port taken
    stable.apply(first, opening=True)
    assert stable.url == f"http://127.0.0.1:{first.port}"
    assert supervisor.settings.host == "127.0.0.1" and supervisor.settings.port != first.port
    reply = httpx.get(f"{stable.url}/v1/models", timeout=10)
    assert reply.status_code == 200 and reply.json()["data"] == []
    stopped = httpx.post(f"{stable.url}/v1/completions", json={"prompt": "x"}, timeout=10)
    assert stopped.status_code == 503 and "stopped" in stopped.json()["error"]["message"]

    second = first.model_copy(update={"port": pick_free_port("127.0.0.1")})
    stable.apply(second, opening=True)
    assert stable.url == f"http://127.0.0.1:{second.port}"
    assert port_is_free("127.0.0.1", first.port)

    off = second.model_copy(update={"stable_endpoint": False})
    stable.apply(off, opening=True)
    assert stable.url == "" and supervisor.settings == off
    assert port_is_free("127.0.0.1", second.port)


def test_a_busy_port_leaves_the_supervisor_to_report_it(
        service: tuple[StableEndpointService, ServerSupervisor]) -> None:
    stable, supervisor = service
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = ServerSettings(port=busy.getsockname()[1], port_conflict=PortConflict.FAIL)
        stable.apply(settings, opening=True)
    assert stable.url == ""
    assert supervisor.settings == settings  # its own port check fails with the usual message
