"""A client that stops reading a stream without closing its connection: the endpoint gives up on it after
its write timeout, so its model is not counted busy for ever (a busy model is never unloaded by its idle
time, and a swap's drain would wait for it until its own timeout). The backend is a stdlib server on
loopback that streams server-sent events as fast as it may, until its reader goes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiohttp import web

from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.connections import ClientStream
from llama_wrangler.server.endpoint.scheduler import Backend
from llama_wrangler.server.endpoint.server import EndpointServer

EVENT = ("data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "x" * 4000}}]}) + "\n\n").encode()


class _Endless(BaseHTTPRequestHandler):
    """Streams chat deltas (chunked, ``text/event-stream``) until the reader closes its side."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                self.wfile.write(f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n")
        except OSError:
            pass  # the endpoint closed its side

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[EndpointServer]:
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    backend.daemon_threads = True
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    server = EndpointServer("127.0.0.1", 0, EndpointConfig(idle_linger_s=0.0, write_timeout_s=1.0),
                            lambda _model, _victims: None)
    server.start()
    server.set_catalog(["alpha"])
    url = f"http://127.0.0.1:{backend.server_address[1]}"
    server.call(server.scheduler.update, Backend(state="ready", url=url, model_id="alpha", wanted="alpha"))
    server.ask(lambda: None)  # the update has run
    yield server
    server.close()
    backend.shutdown()
    backend.server_close()


def _until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/api/chat"])
def test_a_client_that_stops_reading_is_dropped_and_its_model_is_free_again(
        endpoint: EndpointServer, route: str) -> None:
    body = json.dumps({"model": "alpha", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once: the endpoint's writes wait
    try:
        client.connect(("127.0.0.1", endpoint.port))
        client.sendall(f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        assert _until(lambda: endpoint.ask(lambda: endpoint.scheduler.in_flight) == 1)
        # Never read: once the buffers are full, no write goes through; after the write timeout the
        # endpoint drops the connection and gives the model's lease back.
        assert _until(lambda: endpoint.ask(lambda: endpoint.scheduler.in_flight) == 0)
        client.settimeout(30)
        received = 0
        while chunk := client.recv(1 << 20):  # what was buffered, then the end
            received += len(chunk)
        assert received > 0
    except ConnectionResetError:
        pass  # dropped with data still unread: the OS may say so with a reset instead of an end
    finally:
        client.close()


def _small_buffers(transport: asyncio.BaseTransport) -> None:
    """Make the server's side of a connection fill after a few KiB: what is over the limit waits for the
    client."""
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    assert isinstance(transport, asyncio.WriteTransport)
    transport.set_write_buffer_limits(high=2048)


async def _never_read(handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
                      outcome: asyncio.Future[str], request: bytes) -> str:
    """Serve ``handler`` on loopback, send it ``request`` from a client that never reads, and give what the
    handler set as ``outcome``."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(web.Server(handler), "127.0.0.1", 0)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    client.setblocking(False)
    try:
        await loop.sock_connect(client, ("127.0.0.1", server.sockets[0].getsockname()[1]))
        await loop.sock_sendall(client, request)
        return await outcome
    finally:
        client.close()
        server.close()


async def _how_it_went(writing: Awaitable[None], *, done: str) -> str:
    """``done`` when the write went through, "dropped" when the write timeout dropped the client, "held"
    when it still waited 20 s on."""
    try:
        await asyncio.wait_for(writing, 20)
    except ConnectionResetError:
        return "dropped"
    except TimeoutError:
        return "held"
    return done


def test_the_end_of_an_answer_is_under_the_write_timeout_too() -> None:
    """An answer's last write can leave the connection over its buffer limit; aiohttp's write_eof then
    waits for the client like any write (a client that stopped reading would hold it for ever)."""

    async def scenario() -> str:
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            response = ClientStream(status=200, write_timeout_s=0.5)
            await response.prepare(request)
            transport = request.transport
            assert transport is not None
            _small_buffers(transport)
            for _ in range(40):  # 40 KiB: more than both sockets hold, less than what makes a write drain
                await response.write(b"x" * 1024)
            await asyncio.sleep(0.2)  # the sockets take what they can
            assert transport.get_write_buffer_size() > 16 * 1024  # far over the limit: the end drains
            outcome.set_result(await _how_it_went(response.write_eof(), done="ended"))
            return response

        return await _never_read(handler, outcome, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    assert asyncio.run(scenario()) == "dropped"


def test_an_ollama_stream_whose_end_the_client_does_not_take_ends_quietly() -> None:
    """The Ollama stream's last write (its end) is dropped like any other: no error escapes to aiohttp
    (which would log it as a failed request and try to answer 500 on a dead connection)."""
    from llama_wrangler.server.endpoint.ollama_api import OllamaApi

    class _Content:
        def __init__(self, request: web.BaseRequest) -> None:
            self.request = request

        async def iter_any(self) -> AsyncIterator[bytes]:
            transport = self.request.transport
            assert transport is not None
            _small_buffers(transport)
            for _ in range(10):  # 40 KiB of answer: more than both sockets hold, less than a write's drain
                yield EVENT
            await asyncio.sleep(0.2)  # the sockets take what they can; the rest waits for the client

    class _Upstream:
        def __init__(self, request: web.BaseRequest) -> None:
            self.content = _Content(request)

    async def scenario() -> str:
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        api = OllamaApi(None, list, dict, dict, None, write_timeout_s=lambda: 0.5)  # type: ignore[arg-type]

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            try:
                response = await asyncio.wait_for(api._stream(
                    request, _Upstream(request), "alpha", {}, chat=True,  # type: ignore[arg-type]
                    started_ns=0, load_ns=0), 20)
                outcome.set_result("ended")
                return response
            except BaseException as exc:
                outcome.set_result(type(exc).__name__)
                raise

        return await _never_read(handler, outcome,
                                 b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")

    assert asyncio.run(scenario()) == "ended"


def test_a_big_write_to_a_client_that_stopped_reading_is_under_the_write_timeout() -> None:
    """A socket with nothing waiting takes a small write whole, but not a big one (a long non-streamed
    answer relayed in big pieces): what it cannot take goes over the buffer's limit and waits for the
    client, so such a write needs the timer too."""

    async def scenario() -> str:
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            response = ClientStream(status=200, write_timeout_s=0.5)
            await response.prepare(request)
            transport = request.transport
            assert transport is not None
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            assert not transport.get_write_buffer_size()
            outcome.set_result(await _how_it_went(response.write(b"x" * (1 << 20)), done="taken"))
            return response

        return await _never_read(handler, outcome, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    assert asyncio.run(scenario()) == "dropped"
