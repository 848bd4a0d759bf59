"""The stable endpoint's guard rails, tried with raw sockets and real clients: slow and idle connections,
the API key before the body, body and connection caps, CORS, loading on request off, retry later."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server.ports import port_is_free
from llama_wrangler.server.state import ServerState
from tests.support.endpoint_fixtures import READY_TIMEOUT_MS, Served, ServeEndpoint, in_thread

pytestmark = pytest.mark.runtime

IDLE_CONNECTIONS = 1000


def connect(served: Served) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.server.port), timeout=30)


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length body (what the endpoint itself answers)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return True


@contextlib.contextmanager
def idle_connections(served: Served, count: int) -> Iterator[list[socket.socket]]:
    """``count`` keep-alive connections that each made one request and then sit idle."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = connect(served)
            held.append(sock)
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")
        yield held
    finally:
        for sock in held:
            sock.close()


def completion_works(served: Served, **options: str) -> bool:
    with openai.OpenAI(base_url=f"{served.url}/v1", api_key=options.get("api_key", "anything"), max_retries=0,
                       timeout=60) as api:
        reply = api.completions.create(model="alpha", prompt="hi", max_tokens=2)
    return bool(reply.choices) and reply.usage is not None and reply.usage.completion_tokens > 0


def test_a_slow_client_and_a_thousand_idle_ones_do_not_block_others(
        qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint()
    served.start(qtbot, "alpha")
    served.limits(header_timeout_s=1.0)
    slow = connect(served)
    stop = threading.Event()
    outcome: list[str] = []

    def trickle() -> None:  # slowloris: a request head one byte at a time, never finished
        try:
            slow.sendall(b"POST /v1/completions HTTP/1.1\r\n")
            while not stop.is_set():
                slow.sendall(b"X")
                time.sleep(0.1)
        except OSError:
            outcome.append("closed")

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    with idle_connections(served, IDLE_CONNECTIONS) as idle:
        assert served.server.ask(lambda: served.server.web_server.open_connections) >= IDLE_CONNECTIONS
        result = in_thread(lambda: completion_works(served))
        qtbot.waitUntil(lambda: result() is not None, timeout=READY_TIMEOUT_MS)
        assert result() is True
        # The slow client is cut off by the header timeout; the idle ones stay usable.
        qtbot.waitUntil(lambda: outcome == ["closed"] or not writer.is_alive(), timeout=READY_TIMEOUT_MS)
        idle[0].sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(idle[0]).startswith(b"HTTP/1.1 200")
    stop.set()
    writer.join(timeout=10)
    slow.close()
    assert outcome == ["closed"]


def test_an_unauthenticated_request_is_refused_before_its_body_is_read(
        qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(api_key="s3cret")
    served.start(qtbot, "alpha")
    with connect(served) as sock:
        # Announces 50 MB and sends none of it: only a server that never reads the body can answer.
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer wrong\r\nContent-Length: 50000000\r\n\r\n")
        reply = read_response(sock)
        assert reply.startswith(b"HTTP/1.1 401") and b"invalid_api_key" in reply
        assert closed_by_peer(sock)
    with pytest.raises(openai.AuthenticationError):
        completion_works(served, api_key="wrong")
    assert completion_works(served, api_key="s3cret")
    assert served.supervisor.model_id == "alpha"


def test_body_and_connection_caps(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint()
    served.limits(max_body_bytes=1024, max_connections=4)
    too_big = httpx.post(f"{served.url}/v1/completions", content=b"x" * 4096, timeout=30,
                         headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "invalid_request_error"
    with idle_connections(served, 4), connect(served) as extra:
        assert closed_by_peer(extra)  # over the cap: closed at once
    served.limits(max_connections=4096)
    assert httpx.get(f"{served.url}/v1/models", timeout=30).status_code == 200


def test_cors_lets_loopback_pages_and_the_sdk_headers_in(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(api_key="s3cret")
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os, x-stainless-lang"}
    local = httpx.options(f"{served.url}/v1/chat/completions", timeout=30,
                          headers={"Origin": "http://localhost:5173", **preflight})
    assert local.status_code == 204  # a preflight carries no key, and needs none
    assert local.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "x-stainless-os" in local.headers["access-control-allow-headers"].lower()
    stranger = httpx.options(f"{served.url}/v1/chat/completions", timeout=30,
                             headers={"Origin": "https://evil.example", **preflight})
    assert stranger.status_code == 403 and "access-control-allow-origin" not in stranger.headers
    listed = httpx.get(f"{served.url}/v1/models", timeout=30,
                       headers={"Origin": "http://127.0.0.1:3000", "Authorization": "Bearer s3cret"})
    assert listed.status_code == 200 and listed.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"


def test_with_loading_on_request_off_other_models_are_refused_and_stop_closes_the_port(
        qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(load_on_request=False)
    served.start(qtbot, "alpha")
    refused = httpx.post(f"{served.url}/v1/completions", json={"model": "beta", "prompt": "x"}, timeout=30)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "model_not_loaded"
    assert served.supervisor.model_id == "alpha"
    assert completion_works(served)
    port = served.server.port
    served.supervisor.stop()
    qtbot.waitUntil(lambda: served.service.url == "", timeout=READY_TIMEOUT_MS)
    assert served.supervisor.state is ServerState.STOPPED and port_is_free("127.0.0.1", port)


def test_retry_later_answers_503_with_retry_after_and_loads_the_model(
        qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(while_loading="retry_later")
    served.start(qtbot, "alpha")
    first = httpx.post(f"{served.url}/v1/completions", json={"model": "beta", "prompt": "x", "max_tokens": 2},
                       timeout=30)
    assert first.status_code == 503 and int(first.headers["retry-after"]) > 0
    served.ready_on(qtbot, "beta")  # the refused request still asked for its model
    again = httpx.post(f"{served.url}/v1/completions", json={"model": "beta", "prompt": "x", "max_tokens": 2},
                       timeout=30)
    assert again.status_code == 200
