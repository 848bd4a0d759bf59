"""The stable endpoint: an HTTP/1.1 reverse proxy on the user's host:port in front of llama-server.

It runs in its own threads (a ``ThreadingHTTPServer`` plus one thread per connection), never on the GUI
thread. Each request is read whole (bodies are small JSON), given a backend by the :class:`BackendGate`
— waiting while a model starts or swaps — and forwarded with ``httpx``; the response streams back chunk
by chunk, so server-sent events arrive as llama-server writes them.

Model routing is optional: with a ``catalog`` (the library's model ids) the proxy answers
``GET /v1/models`` itself, refuses unknown models with 404, and a request naming another library model
asks ``on_swap`` for it and waits until it is served.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from llama_wrangler.server.backend_gate import BackendGate, BackendUnavailable, Lease
from llama_wrangler.server.ports import connect_host, url_host
from llama_wrangler.server.proxy_http import error_body, forwardable_headers, models_document, requested_model

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024  # prompts with images are big, but not this big
_CONNECT_TIMEOUT_S = 10.0


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True  # a client holding a keep-alive connection open must not block quitting

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily, proxy: StableEndpoint) -> None:
        self.address_family = family
        self.proxy = proxy
        super().__init__(address, _Handler)


class StableEndpoint:
    """The front server. ``wait_s`` bounds how long a request waits for a backend; ``catalog`` and
    ``on_swap`` (called from a request thread) enable model routing. With an ``api_key`` every request
    must carry it, as llama-server would demand: the proxy answers some requests itself, and a swap is not
    something a stranger may trigger."""

    def __init__(self, gate: BackendGate, host: str, port: int, *, wait_s: float,
                 catalog: Callable[[], list[str]] | None = None,
                 on_swap: Callable[[str], None] | None = None, api_key: str = "") -> None:
        self.gate = gate
        self.wait_s = wait_s
        self.api_key = api_key
        self.catalog = catalog
        self.on_swap = on_swap
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _kind, _proto, _name, address = infos[0]
        self._server = ProxyServer((str(address[0]), port), family, self)
        self._host = host
        # No read timeout: a long generation may pause between tokens for as long as it likes.
        self.client = httpx.Client(timeout=httpx.Timeout(_CONNECT_TIMEOUT_S, read=None, write=None, pool=None),
                                   limits=httpx.Limits(max_connections=256, max_keepalive_connections=32),
                                   trust_env=False)  # loopback backend: never through an HTTP proxy
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        """Base URL clients use (``http://127.0.0.1:8080``)."""
        return f"http://{url_host(connect_host(self._host))}:{self.port}"

    def start(self) -> None:
        if self._thread is None:
            # A short poll interval keeps close() (on the GUI thread) prompt.
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,),
                                            name="stable-endpoint", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop accepting and release the port (requests in flight are cut off)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self.client.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked responses for streams
    server: ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # http.server dispatches on do_<METHOD>; every method is forwarded the same way.
    def do_GET(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_PATCH(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def do_OPTIONS(self) -> None:
        self._proxy()

    # ---------------------------------------------------------------- one request
    def _proxy(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        if body is None:
            return
        if proxy.api_key and not self._authorized(proxy.api_key):
            self._reply(401, error_body("Invalid API key.", "authentication_error", "invalid_api_key"))
            return
        path = self.path.split("?", 1)[0]
        if proxy.catalog is not None and self.command == "GET" and path == "/v1/models":
            ids, served = proxy.catalog(), proxy.gate.model_id
            # A model served from a file outside the library is still what this endpoint answers with.
            self._reply(200, models_document(ids if not served or served in ids else [served, *ids]))
            return
        wanted = self._route(proxy, body)
        if wanted == "":
            return  # answered already
        try:
            lease = proxy.gate.acquire(proxy.wait_s, wanted)
        except BackendUnavailable as exc:
            self._reply(503, error_body(str(exc), "unavailable"))
            return
        try:
            self._forward(proxy, lease, body)
        finally:
            proxy.gate.release(lease)

    def _authorized(self, key: str) -> bool:
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        sent = sent or self.headers.get("X-Api-Key", "").strip()  # llama-server accepts either
        return hmac.compare_digest(sent.encode(), key.encode())

    def _route(self, proxy: StableEndpoint, body: bytes) -> str | None:
        """The model this request must wait for (None: whatever is served); '' after answering 404."""
        if proxy.catalog is None or proxy.on_swap is None:
            return None
        model = requested_model(self.headers.get("Content-Type", ""), body)
        if model is None or model == proxy.gate.model_id:
            return None if model is None else model
        if model not in proxy.catalog():
            self._reply(404, error_body(f"The model '{model}' is not in the library.",
                                        "invalid_request_error", "model_not_found"))
            return ""
        if proxy.gate.expect(model):
            proxy.on_swap(model)
        return model

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length", "0") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(400, error_body("Bad Content-Length.", "invalid_request_error"))
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                size = -1
            total += max(size, 0)
            if size < 0 or total > MAX_BODY_BYTES:
                self.close_connection = True
                self._reply(400, error_body("Bad chunked request body.", "invalid_request_error"))
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: dropped, like every other hop-by-hop detail
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _forward(self, proxy: StableEndpoint, lease: Lease, body: bytes) -> None:
        headers = forwardable_headers(self.headers.items())
        request = proxy.client.build_request(self.command, lease.url + self.path, headers=headers,
                                             content=body if body or self.command in ("POST", "PUT", "PATCH")
                                             else None)
        try:
            upstream = proxy.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._reply(502, error_body(f"The model server did not answer: {exc}.", "unavailable"))
            return
        try:
            self._relay(upstream)
        finally:
            upstream.close()

    def _relay(self, upstream: httpx.Response) -> None:
        self.send_response_only(upstream.status_code, upstream.reason_phrase or None)
        for name, value in forwardable_headers(upstream.headers.multi_items()):
            self.send_header(name, value)
        length = upstream.headers.get("Content-Length")
        chunked = length is None or "transfer-encoding" in upstream.headers
        if self.command == "HEAD" or upstream.status_code in (204, 304):
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            return
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            for chunk in self._raw_chunks(upstream):
                if chunked:
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                else:
                    self.wfile.write(chunk)
                self.wfile.flush()  # each event as it comes: streaming clients wait on it
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client went away; closing upstream stops the generation
        except httpx.HTTPError as exc:
            # The status is sent: all that is left is to cut the body short so the client sees an error.
            log.warning("the model server broke off a response: %s", exc)
            self.close_connection = True

    @staticmethod
    def _raw_chunks(upstream: httpx.Response) -> Iterator[bytes]:
        # Raw bytes: any Content-Encoding passes through untouched, as its header says.
        for chunk in upstream.iter_raw():
            if chunk:
                yield chunk

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
