"""A loopback HTTP server (stdlib, in a thread) that serves fixed bytes per path.

Used for the llama.cpp releases API + release zips and source archives. ``routes`` maps a path to
``(status, content_type, body)``; the server records the paths it was asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

Route = tuple[int, str, bytes]


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, Route]] = {}
    requested: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requested.append(self.path)
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class StaticServer:
    def __init__(self, server: ThreadingHTTPServer, handler: type[_Handler]) -> None:
        self._server = server
        self.routes = handler.routes
        self.requested = handler.requested

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path


@contextmanager
def static_server(routes: dict[str, Route] | None = None) -> Iterator[StaticServer]:
    handler = type("Handler", (_Handler,), {"routes": dict(routes or {}), "requested": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticServer(server, handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
