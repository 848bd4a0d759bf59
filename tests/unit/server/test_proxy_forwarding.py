"""The proxy against a stdlib backend on loopback: what travels, and the routing decisions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from llama_wrangler.server.backend_gate import BackendGate
from llama_wrangler.server.proxy import StableEndpoint


class _Echo(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                          "body": body})
        reply = b'{"ok": true}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "echo")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    _Echo.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy() -> Iterator[StableEndpoint]:
    endpoint = StableEndpoint(BackendGate(), "127.0.0.1", 0, wait_s=30)
    endpoint.start()
    yield endpoint
    endpoint.close()


def test_method_path_query_body_and_end_to_end_headers_travel(backend: str, proxy: StableEndpoint) -> None:
    proxy.gate.set_ready(backend, "alpha")
    response = httpx.post(f"{proxy.url}/v1/completions?x=1", content=b'{"prompt": "hi"}', timeout=10,
                          headers={"Authorization": "Bearer k", "Content-Type": "application/json",
                                   "Connection": "keep-alive, X-Private", "X-Private": "no"})
    assert response.status_code == 201
    assert response.headers["x-backend"] == "echo"
    assert response.json() == {"ok": True}
    (seen,) = _Echo.seen
    assert (seen["method"], seen["path"], seen["body"]) == ("POST", "/v1/completions?x=1", b'{"prompt": "hi"}')
    names = {name.lower() for name in seen["headers"]}
    assert seen["headers"]["Authorization"] == "Bearer k"
    assert "x-private" not in names
    assert proxy.gate.wait_drained(backend, 10)  # the lease is given back once the answer is sent


def test_a_down_backend_is_a_503_error_document(proxy: StableEndpoint) -> None:
    proxy.gate.set_down("The model server is stopped.")
    response = httpx.post(f"{proxy.url}/v1/completions", json={"prompt": "hi"}, timeout=10)
    assert response.status_code == 503
    assert response.json()["error"] == {"message": "The model server is stopped.", "type": "unavailable",
                                        "code": None}


def test_routing_lists_refuses_and_asks_for_swaps(backend: str, proxy: StableEndpoint) -> None:
    asked: list[str] = []

    def on_swap(model_id: str) -> None:
        asked.append(model_id)
        proxy.gate.set_ready(backend, model_id)  # what the supervisor does, later, on its own thread

    proxy.catalog = lambda: ["alpha", "beta"]
    proxy.on_swap = on_swap
    proxy.gate.set_ready(backend, "alpha")

    listed = httpx.get(f"{proxy.url}/v1/models", timeout=10).json()
    assert [model["id"] for model in listed["data"]] == ["alpha", "beta"]

    unknown = httpx.post(f"{proxy.url}/v1/completions", json={"model": "gamma"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"

    assert httpx.post(f"{proxy.url}/v1/completions", json={"model": "alpha"}, timeout=10).status_code == 201
    assert httpx.post(f"{proxy.url}/v1/completions", json={"prompt": "x"}, timeout=10).status_code == 201
    assert asked == []  # the served model, and no model at all: no swap

    assert httpx.post(f"{proxy.url}/v1/completions", json={"model": "beta"}, timeout=10).status_code == 201
    assert asked == ["beta"]
    assert json.loads(_Echo.seen[-1]["body"])["model"] == "beta"


def test_with_an_api_key_every_request_must_carry_it(backend: str, proxy: StableEndpoint) -> None:
    proxy.api_key = "s3cret"
    proxy.catalog = lambda: ["alpha"]
    proxy.gate.set_ready(backend, "alpha")
    refused = httpx.get(f"{proxy.url}/v1/models", timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    wrong = httpx.post(f"{proxy.url}/v1/completions", json={}, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    assert _Echo.seen == []
    allowed = httpx.get(f"{proxy.url}/v1/models", headers={"Authorization": "Bearer s3cret"}, timeout=10)
    assert allowed.status_code == 200
    assert httpx.post(f"{proxy.url}/v1/completions", json={}, headers={"X-Api-Key": "s3cret"},
                      timeout=10).status_code == 201
