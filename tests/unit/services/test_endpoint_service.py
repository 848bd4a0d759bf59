"""The app's stable endpoint follows the settings (no model served: no runtime needed)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.errors import ModelNotFoundError, ServerError
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.ports import pick_free_port, port_is_free
from llama_wrangler.server.run import ServeTarget
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.endpoint import EndpointService
from llama_wrangler.settings import PortConflict, ServerSettings


def no_models(model_id: str) -> ServeTarget:
    raise ModelNotFoundError(f"No model {model_id}.")


@pytest.fixture
def service(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[EndpointService, ServerFleet]]:
    supervisor = ServerFleet(ServerSupervisor(tmp_path / "llama-server", ServerSettings()))
    made = EndpointService(supervisor, no_models)
    yield made, supervisor
    made.close()


def test_the_endpoint_opens_on_serve_and_moves_with_the_port(
        service: tuple[EndpointService, ServerFleet]) -> None:
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
        service: tuple[EndpointService, ServerFleet]) -> None:
    stable, supervisor = service
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = ServerSettings(port=busy.getsockname()[1], port_conflict=PortConflict.FAIL)
        stable.apply(settings, opening=True)
    assert stable.url == ""
    assert supervisor.settings == settings  # its own port check fails with the usual message


def test_strict_apply_refuses_a_busy_port_at_once(service: tuple[EndpointService, ServerFleet]) -> None:
    """The command line binds before llama-server starts: a busy port is an error, not a later crash."""
    stable, _supervisor = service
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = ServerSettings(port=busy.getsockname()[1], port_conflict=PortConflict.FAIL)
        with pytest.raises(ServerError, match="in use"):
            stable.apply(settings, opening=True, strict=True)
    assert stable.url == ""


def test_a_request_naming_a_model_is_announced(qtbot: QtBot,
                                               service: tuple[EndpointService, ServerFleet]) -> None:
    stable, _supervisor = service
    stable.apply(ServerSettings(port=pick_free_port("127.0.0.1")), opening=True)
    stable.set_catalog(["alpha"])
    replies: list[httpx.Response] = []
    # The swap is resolved on this (the GUI) thread, so the client must run on another one.
    client = threading.Thread(target=lambda: replies.append(
        httpx.post(f"{stable.url}/v1/completions", json={"model": "alpha", "prompt": "x"}, timeout=30)))
    with qtbot.waitSignal(stable.swap_requested, timeout=10_000) as blocker:
        client.start()
    qtbot.waitUntil(lambda: not client.is_alive(), timeout=20_000)
    assert blocker.args == ["alpha"]
    # no_models() refuses it: the waiting request is woken with an error instead of hanging.
    assert replies[0].status_code in (404, 503)


def test_a_request_may_name_a_model_by_its_display_name(
        qtbot: QtBot, service: tuple[EndpointService, ServerFleet]) -> None:
    stable, _supervisor = service
    stable.apply(ServerSettings(port=pick_free_port("127.0.0.1")), opening=True)
    stable.set_catalog(["llama-3.2-1b-instruct-q4_k_m"], {"Llama 3.2 1B Instruct": "llama-3.2-1b-instruct-q4_k_m"})
    replies: list[httpx.Response] = []
    client = threading.Thread(target=lambda: replies.append(httpx.post(
        f"{stable.url}/v1/completions", json={"model": "Llama 3.2 1B Instruct", "prompt": "x"}, timeout=30)))
    with qtbot.waitSignal(stable.swap_requested, timeout=10_000) as blocker:
        client.start()
    qtbot.waitUntil(lambda: not client.is_alive(), timeout=20_000)
    assert blocker.args == ["llama-3.2-1b-instruct-q4_k_m"]  # the display name meant the library id
    unknown = httpx.post(f"{stable.url}/v1/completions", json={"model": "No Such Model", "prompt": "x"}, timeout=30)
    assert unknown.status_code == 404


def test_the_front_page_and_ollamas_heartbeat_answer_while_no_model_is_loaded(
        service: tuple[EndpointService, ServerFleet]) -> None:
    stable, _supervisor = service
    stable.apply(ServerSettings(port=pick_free_port("127.0.0.1")), opening=True)
    heartbeat = httpx.head(f"{stable.url}/", timeout=10)  # what `ollama list` sends before anything else
    assert heartbeat.status_code == 200
    front = httpx.get(f"{stable.url}/", timeout=10)
    assert front.status_code == 200 and "endpoint is running" in front.text and "stopped" in front.text
    elsewhere = httpx.get(f"{stable.url}/health", timeout=10)  # other paths still say the model is away
    assert elsewhere.status_code == 503
