"""The endpoint against a stdlib backend on loopback (no Qt, no llama-server): what travels, and routing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.scheduler import Backend
from llama_wrangler.server.endpoint.server import EndpointServer


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
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
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Endpoint:
    def __init__(self, config: EndpointConfig) -> None:
        self.asked: list[str] = []
        self.server = EndpointServer("127.0.0.1", 0, config, lambda model, _victims: self.asked.append(model))
        self.server.start()

    def serve(self, url: str, model: str) -> None:
        self.server.call(self.server.scheduler.update, Backend(state="ready", url=url, model_id=model,
                                                               wanted=model))
        self.server.ask(lambda: None)  # the update has run


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    made = Endpoint(EndpointConfig(idle_linger_s=0.0))
    made.server.set_catalog(["alpha", "beta"])
    yield made
    made.server.close()


def test_method_path_query_body_and_end_to_end_headers_travel(backend: str, endpoint: Endpoint) -> None:
    endpoint.serve(backend, "alpha")
    response = httpx.post(f"{endpoint.server.url}/v1/completions?x=1&y=%2F", content=b'{"prompt": "hi"}',
                          timeout=10, headers={"Authorization": "Bearer k", "Content-Type": "application/json",
                                               "Connection": "keep-alive, X-Private", "X-Private": "no"})
    assert response.status_code == 201
    assert response.headers["x-backend"] == "echo"
    assert response.json() == {"ok": True}
    (seen,) = _Echo.seen
    assert (seen["method"], seen["path"], seen["body"]) == ("POST", "/v1/completions?x=1&y=%2F", b'{"prompt": "hi"}')
    names = {name.lower() for name in seen["headers"]}
    assert seen["headers"]["Authorization"] == "Bearer k"
    assert "x-private" not in names
    assert endpoint.server.ask(lambda: endpoint.server.scheduler.in_flight) == 0  # the lease was given back


def test_routing_lists_refuses_and_asks_for_models(backend: str, endpoint: Endpoint) -> None:
    endpoint.serve(backend, "alpha")
    listed = httpx.get(f"{endpoint.server.url}/v1/models", timeout=10).json()
    assert [(model["id"], model["state"]) for model in listed["data"]] == [("alpha", "loaded"), ("beta", "unloaded")]
    unknown = httpx.post(f"{endpoint.server.url}/v1/completions", json={"model": "gamma"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert httpx.post(f"{endpoint.server.url}/v1/completions", json={"model": "alpha"}, timeout=10).status_code == 201
    assert httpx.post(f"{endpoint.server.url}/v1/completions", json={"prompt": "x"}, timeout=10).status_code == 201
    assert endpoint.asked == []  # the served model, and no model at all: nothing to load

    box: list[httpx.Response] = []
    client = threading.Thread(target=lambda: box.append(
        httpx.post(f"{endpoint.server.url}/v1/completions", json={"model": "beta"}, timeout=30)))
    client.start()
    for _ in range(500):
        if endpoint.asked:
            break
        threading.Event().wait(0.01)
    assert endpoint.asked == ["beta"]
    endpoint.serve(backend, "beta")  # what the supervisor does, later, on its own thread
    client.join(30)
    assert box[0].status_code == 201
    assert json.loads(_Echo.seen[-1]["body"])["model"] == "beta"


def test_with_an_api_key_every_request_must_carry_it(backend: str, endpoint: Endpoint) -> None:
    endpoint.server.set_config(replace(endpoint.server.config, api_key="s3cret"))
    endpoint.serve(backend, "alpha")
    refused = httpx.get(f"{endpoint.server.url}/v1/models", timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    wrong = httpx.post(f"{endpoint.server.url}/v1/completions", json={}, timeout=10,
                       headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert _Echo.seen == []
    assert httpx.get(f"{endpoint.server.url}/v1/models", headers={"Authorization": "Bearer s3cret"},
                     timeout=10).status_code == 200
    assert httpx.post(f"{endpoint.server.url}/v1/completions", json={}, headers={"X-Api-Key": "s3cret"},
                      timeout=10).status_code == 201


def test_nothing_served_is_a_503_error_document(endpoint: Endpoint) -> None:
    response = httpx.post(f"{endpoint.server.url}/v1/completions", json={"prompt": "hi"}, timeout=10)
    assert response.status_code == 503
    assert response.json()["error"] == {
        "message": "The model server is stopped. A request naming a model loads it.", "type": "unavailable",
        "code": None}


def test_one_model_is_retrieved_by_id_as_openai_clients_ask(backend: str, endpoint: Endpoint) -> None:
    """``GET /v1/models/{id}`` (the OpenAI SDK's ``models.retrieve``) is answered from the library, for a
    loaded model and an unloaded one alike (llama-server behind us has no such route: it said 404)."""
    import openai

    endpoint.server.set_catalog(["alpha", "beta", "org/gamma:Q4_K_M"], {"Gamma Model": "org/gamma:Q4_K_M"})
    endpoint.serve(backend, "alpha")
    with openai.OpenAI(base_url=f"{endpoint.server.url}/v1", api_key="x", max_retries=0, timeout=10) as api:
        alpha = api.models.retrieve("alpha")
        assert (alpha.id, alpha.object, alpha.owned_by) == ("alpha", "model", "llama-wrangler")
        assert api.models.retrieve("beta").id == "beta"  # not loaded: still a model of this endpoint
        assert api.models.retrieve("org/gamma:Q4_K_M").id == "org/gamma:Q4_K_M"
        with pytest.raises(openai.NotFoundError) as missing:
            api.models.retrieve("nope")
    assert missing.value.body is not None and "nope" in json.dumps(missing.value.body)
    named = httpx.get(f"{endpoint.server.url}/v1/models/Gamma%20Model", timeout=10).json()
    assert named["id"] == "org/gamma:Q4_K_M" and named["state"] == "unloaded"
    assert endpoint.asked == [] and _Echo.seen == []  # nothing loaded, nothing relayed


def test_every_loaded_model_may_be_named_even_outside_the_library(backend: str, endpoint: Endpoint) -> None:
    """`serve a.gguf`, then `b.gguf` typed on its stdin: both loaded, neither in the library. /v1/models
    lists both; a request naming the one that is not the default must reach it, not get a 404."""
    endpoint.server.set_catalog(["beta"])
    for slot, model in (("primary", "fileA"), ("c1", "fileB")):
        endpoint.server.call(endpoint.server.scheduler.update,
                             Backend(state="ready", url=backend, model_id=model, wanted=model, focus=slot == "c1"),
                             slot)
    endpoint.server.ask(lambda: None)
    listed = {m["id"]: m["state"] for m in httpx.get(f"{endpoint.server.url}/v1/models", timeout=10).json()["data"]}
    assert listed["fileA"] == listed["fileB"] == "loaded"
    for model in ("fileA", "fileB"):
        reply = httpx.post(f"{endpoint.server.url}/v1/completions", json={"model": model}, timeout=10)
        assert reply.status_code == 201, reply.text
    load = httpx.post(f"{endpoint.server.url}/models/load", json={"model": "fileA"}, timeout=10)
    assert load.status_code == 200, load.text
    assert endpoint.asked == []
