"""A loopback HTTP server (stdlib, in a thread) that serves fixed bytes per path.

Used for the llama.cpp releases API + release zips and source archives, and for the transfer layer's own
tests. ``routes`` maps a path to ``(status, content_type, body)``; a ``Range: bytes=<start>-`` request on a
200 route is answered 206 with the rest of the body. ``redirects`` maps a path to a ``Location`` (302);
``fail_once`` queues statuses (with an optional ``Retry-After``) answered before the route, one per
request. The server records the paths it was asked for, and each request's ``Range`` and
``Authorization`` headers (``calls``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

Route = tuple[int, str, bytes]


@dataclass(frozen=True)
class Call:
    path: str
    range: str | None
    authorization: str | None


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, Route]] = {}
    redirects: ClassVar[dict[str, str]] = {}
    failures: ClassVar[dict[str, list[tuple[int, int | None]]]] = {}
    requested: ClassVar[list[str]] = []
    calls: ClassVar[list[Call]] = []

    def do_GET(self) -> None:
        self.requested.append(self.path)
        self.calls.append(Call(self.path, self.headers.get("Range"), self.headers.get("Authorization")))
        queued = self.failures.get(self.path)
        if queued:
            status, retry_after = queued.pop(0)
            self._answer(status, "text/plain", b"try again", {"Retry-After": str(retry_after)}
                         if retry_after is not None else {})
            return
        if self.path in self.redirects:
            self._answer(302, "text/plain", b"", {"Location": self.redirects[self.path]})
            return
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        wanted = self.headers.get("Range")
        if status == 200 and wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes="):-1])
            if start >= len(body):
                self._answer(416, "text/plain", b"", {"Content-Range": f"bytes */{len(body)}"})
                return
            self._answer(206, content_type, body[start:],
                         {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"})
            return
        self._answer(status, content_type, body, {})

    def _answer(self, status: int, content_type: str, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class StaticServer:
    def __init__(self, server: ThreadingHTTPServer, handler: type[_Handler]) -> None:
        self._server = server
        self.routes = handler.routes
        self.redirects = handler.redirects
        self.requested = handler.requested
        self.calls = handler.calls
        self._failures = handler.failures

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def fail_once(self, path: str, status: int, *, retry_after: int | None = None) -> None:
        """Answer the next GET of ``path`` with ``status`` (queued: call again for more)."""
        self._failures.setdefault(path, []).append((status, retry_after))


@contextmanager
def static_server(routes: dict[str, Route] | None = None) -> Iterator[StaticServer]:
    handler = type("Handler", (_Handler,), {"routes": dict(routes or {}), "redirects": {}, "failures": {},
                                            "requested": [], "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield StaticServer(server, handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
