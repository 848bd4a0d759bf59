"""The endpoint's Ollama routes against a stdlib backend on loopback that holds its answer until told:
what a client that goes away, or asks at the edges of Ollama's API, leaves behind."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.scheduler import Backend
from llama_wrangler.server.endpoint.server import EndpointServer


class _Held(BaseHTTPRequestHandler):
    """Answers an OpenAI chat or embeddings request once ``release`` is set."""

    protocol_version = "HTTP/1.1"
    release: ClassVar[threading.Event] = threading.Event()
    arrived: ClassVar[threading.Event] = threading.Event()
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.seen.append({"path": self.path, "body": body})
        self.arrived.set()
        self.release.wait(30)
        if self.path == "/v1/embeddings":
            count = len(body["input"])
            reply: dict[str, Any] = {"data": [{"index": i, "embedding": [3.0, 4.0, 12.0]} for i in range(count)],
                                     "usage": {"prompt_tokens": count}}
        else:
            reply = {"choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
        data = json.dumps(reply).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the endpoint closed its side

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    _Held.release, _Held.arrived, _Held.seen = threading.Event(), threading.Event(), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Held)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Held.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(backend: str) -> Iterator[EndpointServer]:
    server = EndpointServer("127.0.0.1", 0, EndpointConfig(idle_linger_s=0.0), lambda _model, _victims: None)
    server.start()
    server.set_catalog(["alpha"])
    server.call(server.scheduler.update, Backend(state="ready", url=backend, model_id="alpha", wanted="alpha"))
    server.ask(lambda: None)  # the update has run
    yield server
    server.close()


def _until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.parametrize("route", ["/api/chat", "/api/generate", "/v1/chat/completions"])
def test_a_client_gone_before_the_answer_starts_gives_its_lease_back(endpoint: EndpointServer, route: str) -> None:
    """A non-streamed answer starts only when the whole generation is done: a client that gives up before
    (a timeout, Ctrl-C) must not leave its model counted busy — a busy model is never unloaded by its idle
    TTL, and a drain for a swap would wait for it until its timeout."""
    body = {"model": "alpha", "stream": False, "messages": [{"role": "user", "content": "hi"}], "prompt": "hi"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{endpoint.url}{route}", json=body, timeout=httpx.Timeout(10, read=0.5))
    assert _Held.arrived.is_set()
    assert _until(lambda: endpoint.ask(lambda: endpoint.scheduler.in_flight) == 0)


def test_a_users_load_waits_for_its_model_even_when_clients_are_told_to_retry(backend: str) -> None:
    """``server.while_loading = retry_later`` tells *requests* to come back; ``POST /models/load`` (and
    ``llama-wrangler load``) is documented to answer once the model is ready, so it waits."""
    asked: list[str] = []
    server = EndpointServer("127.0.0.1", 0, EndpointConfig(idle_linger_s=0.0, retry_later=True),
                            lambda model, _victims: asked.append(model))
    server.start()
    try:
        server.set_catalog(["alpha", "beta"])
        answer: list[httpx.Response] = []
        client = threading.Thread(target=lambda: answer.append(
            httpx.post(f"{server.url}/models/load", json={"model": "beta"}, timeout=30)))
        client.start()
        assert _until(lambda: asked == ["beta"])
        assert not answer  # still waiting for beta
        server.call(server.scheduler.update, Backend(state="ready", url=backend, model_id="beta", wanted="beta"))
        client.join(30)
        assert answer[0].status_code == 200, answer[0].text
        assert answer[0].json() == {"success": True, "model": "beta"}
    finally:
        server.close()


def test_embed_dimensions_cut_and_renormalise_each_vector(endpoint: EndpointServer) -> None:
    """Ollama's ``dimensions``: the first N values of each vector, scaled back to unit length."""
    _Held.release.set()
    answer = httpx.post(f"{endpoint.url}/api/embed", json={"model": "alpha", "input": ["a", "b"], "dimensions": 2},
                        timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["embeddings"] == [[0.6, 0.8], [0.6, 0.8]]  # (3, 4) / 5
    whole = httpx.post(f"{endpoint.url}/api/embed", json={"model": "alpha", "input": "a", "dimensions": 0},
                       timeout=10).json()["embeddings"]
    assert whole == [[3 / 13, 4 / 13, 12 / 13]]  # 0 (or more than there are): all of it, unit length
    bad = httpx.post(f"{endpoint.url}/api/embed", json={"model": "alpha", "input": "a", "dimensions": "two"},
                     timeout=10)
    assert bad.status_code == 400 and "dimensions" in bad.json()["error"]


@pytest.mark.parametrize(("route", "body", "expected"), [
    ("/api/embed", {}, {"model": "alpha", "embeddings": []}),
    ("/api/embed", {"input": ""}, {"model": "alpha", "embeddings": []}),
    ("/api/embed", {"input": []}, {"model": "alpha", "embeddings": []}),
    ("/api/embeddings", {"prompt": ""}, {"embedding": []}),
])
def test_an_embed_request_with_nothing_to_embed_only_loads_the_model(
        endpoint: EndpointServer, route: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    """As in Ollama: an empty input loads the model and answers no vectors (clients use it to preload)."""
    answer = httpx.post(f"{endpoint.url}{route}", json={"model": "alpha", **body}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert {key: answer.json()[key] for key in expected} == expected
    assert _Held.seen == []  # nothing was sent to the model server


class _BrokenStream(BaseHTTPRequestHandler):
    """Streams one token, then the error event llama-server ends a failed stream with (``error:`` in older
    builds, a ``data:`` object with an ``error`` in newer ones)."""

    protocol_version = "HTTP/1.1"
    event: ClassVar[bytes] = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        token = {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
        body = b"data: " + json.dumps(token).encode() + b"\n\n" + self.event
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("event", [
    b'error: {"code": 500, "message": "the slot ran out of memory", "type": "server_error"}\n\n',
    b'data: {"error": {"code": 500, "message": "the slot ran out of memory", "type": "server_error"}}\n\n',
])
def test_an_error_in_the_middle_of_a_stream_reaches_the_ollama_client(event: bytes) -> None:
    """Ollama ends a failed stream with an ``{"error": ...}`` line (its client raises on it); a stream that
    went on to a normal ``done: true`` line would pass the cut answer off as whole."""
    _BrokenStream.event = event
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _BrokenStream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    server = EndpointServer("127.0.0.1", 0, EndpointConfig(idle_linger_s=0.0), lambda _model, _victims: None)
    server.start()
    try:
        server.set_catalog(["alpha"])
        url = f"http://127.0.0.1:{upstream.server_address[1]}"
        server.call(server.scheduler.update, Backend(state="ready", url=url, model_id="alpha", wanted="alpha"))
        server.ask(lambda: None)
        with httpx.stream("POST", f"{server.url}/api/chat", timeout=10,
                          json={"model": "alpha", "messages": [{"role": "user", "content": "hi"}]}) as response:
            lines = [json.loads(line) for line in response.iter_lines() if line]
        assert lines[0]["message"]["content"] == "Hel"
        assert lines[-1] == {"error": "the slot ran out of memory"}
        assert not any(line.get("done") for line in lines)
    finally:
        server.close()
        upstream.shutdown()
        upstream.server_close()


def test_each_ollama_request_sets_its_models_keep_alive_anew(endpoint: EndpointServer) -> None:
    """As in Ollama, keep_alive is how long the model stays after *this* request: a later request that
    sends none goes back to the model's own idle time (here the endpoint's default for a model a request
    loaded), not to the last client's ``-1`` (forever)."""
    _Held.release.set()

    def generate(**extra: Any) -> None:
        body = {"model": "alpha", "prompt": "hi", "stream": False, **extra}
        assert httpx.post(f"{endpoint.url}/api/generate", json=body, timeout=10).status_code == 200

    def expires_at() -> str:
        (model,) = httpx.get(f"{endpoint.url}/api/ps", timeout=10).json()["models"]
        return str(model["expires_at"])

    generate(keep_alive=-1)
    assert expires_at().startswith("2318")  # forever
    generate()
    assert not expires_at().startswith("2318")  # the default idle time again
    generate(keep_alive="10m")
    assert endpoint.ask(lambda: endpoint.scheduler.residents()[0].ttl_s) == 600
