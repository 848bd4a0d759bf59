"""What the loopback servers (:mod:`tests.support.fake_hub`, :mod:`tests.support.fake_ollama`) share:
threaded HTTP servers on 127.0.0.1 started and stopped together, one shared state, and faults queued per
key and consumed one per request."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Fault:
    kind: str  # "cut" | "corrupt" | "status" | "slow" | "stall"
    value: int = 0
    retry_after: int | None = None
    seconds: float = 0.0

    @classmethod
    def cut(cls, after_bytes: int) -> Fault:
        return cls("cut", after_bytes)

    @classmethod
    def corrupt(cls) -> Fault:
        return cls("corrupt")

    @classmethod
    def status(cls, code: int, retry_after: int | None = None) -> Fault:
        return cls("status", code, retry_after)

    @classmethod
    def slow(cls, bytes_per_second: int) -> Fault:
        return cls("slow", bytes_per_second)

    @classmethod
    def stall(cls, after_bytes: int, seconds: float) -> Fault:
        """Send ``after_bytes``, then nothing for ``seconds`` (the connection stays open), then hang up."""
        return cls("stall", after_bytes, seconds=seconds)


@dataclass
class FaultState:
    """A server's shared state: the fault queues and the lock that guards them (and the subclass's fields)."""

    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, key: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get(key)
            return queue.pop(0) if queue else None


class LoopbackServers:
    """One threaded server per kind (``server.kind``), all sharing ``state`` (``server.state``);
    ``with`` starts them and stops them."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: FaultState, kinds: Sequence[str],
                 thread_name: str) -> None:
        self.state = state
        self._servers = {kind: ThreadingHTTPServer(("127.0.0.1", 0), handler) for kind in kinds}
        for kind, server in self._servers.items():
            server.daemon_threads = True
            server.state = state  # type: ignore[attr-defined]
            server.kind = kind  # type: ignore[attr-defined]
        self._threads = [threading.Thread(target=server.serve_forever, name=thread_name, daemon=True)
                         for server in self._servers.values()]

    def _server(self, kind: str) -> ThreadingHTTPServer:
        return self._servers[kind]

    def _url(self, kind: str) -> str:
        host, port = self._servers[kind].server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)

    def add_fault(self, key: str, *faults: Fault) -> None:
        with self.state.lock:
            self.state.faults[key].extend(faults)

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, no request log (tests read the servers' recorded requests), HEAD and GET routed to
    :meth:`_dispatch`."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded requests instead."""

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def _dispatch(self, *, head: bool) -> None:
        raise NotImplementedError
