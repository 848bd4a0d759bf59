"""The readiness probe against small loopback servers: loading, ready, /props, deadline, stale replies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server.health import ReadinessProbe

PROPS = {"model_path": "/models/m.gguf", "default_generation_settings": {"n_ctx": 512}}


class FakeServer(ThreadingHTTPServer):
    """Answers the readiness path with the queued statuses (then 200), and ``/props`` with PROPS."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses: list[int] = []
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization header)
        self.release = threading.Event()  # a readiness answer waits for this
        self.release.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Authorization")))
        if self.path == "/props":
            self._answer(200, json.dumps(PROPS).encode())
            return
        self.server.release.wait(10)
        self._answer(self.server.statuses.pop(0) if self.server.statuses else 200, b"{}")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[list[FakeServer]]:
    made = [FakeServer(), FakeServer()]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in made]
    for thread in threads:
        thread.start()
    yield made
    for server in made:
        server.release.set()
        server.shutdown()
        server.server_close()


def recorded(probe: ReadinessProbe) -> list[tuple[str, int, object]]:
    events: list[tuple[str, int, object]] = []
    probe.loading.connect(lambda generation: events.append(("loading", generation, None)))
    probe.ready.connect(lambda generation, props: events.append(("ready", generation, props)))
    probe.timed_out.connect(lambda generation: events.append(("timed_out", generation, None)))
    return events


def test_loading_then_ready_with_props(qtbot: QtBot, servers: list[FakeServer]) -> None:
    server = servers[0]
    server.statuses = [503, 503]
    probe = ReadinessProbe()
    events = recorded(probe)
    with qtbot.waitSignal(probe.ready, timeout=10_000):
        probe.watch(7, server.url, ready_path="/health", reads_props=True, deadline=time.monotonic() + 60,
                    api_key="secret")
    assert events == [("loading", 7, None), ("loading", 7, None), ("ready", 7, PROPS)]
    assert [path for path, _ in server.requests] == ["/health", "/health", "/health", "/props"]
    assert {auth for _, auth in server.requests} == {"Bearer secret"}


def test_a_backend_without_props_is_ready_on_its_readiness_path(qtbot: QtBot, servers: list[FakeServer]) -> None:
    server = servers[0]
    probe = ReadinessProbe()
    events = recorded(probe)
    with qtbot.waitSignal(probe.ready, timeout=10_000):
        probe.watch(1, server.url, ready_path="/v1/models", reads_props=False, deadline=time.monotonic() + 60)
    assert events == [("ready", 1, {})]
    assert server.requests == [("/v1/models", None)]


def test_a_server_not_ready_by_the_deadline_times_out(qtbot: QtBot, servers: list[FakeServer]) -> None:
    servers[0].statuses = [503] * 10_000
    probe = ReadinessProbe()
    events = recorded(probe)
    with qtbot.waitSignal(probe.timed_out, timeout=10_000):
        probe.watch(3, servers[0].url, ready_path="/health", reads_props=True, deadline=time.monotonic() + 0.3)
    assert events[-1] == ("timed_out", 3, None)
    assert {event for event, _, _ in events} == {"loading", "timed_out"}


def test_a_reply_for_an_older_generation_never_reports_ready(qtbot: QtBot, servers: list[FakeServer]) -> None:
    old, new = servers
    old.release.clear()  # the old server's answer (200: ready) arrives only after the new watch began
    new.statuses = [503] * 10_000
    probe = ReadinessProbe()
    events = recorded(probe)
    probe.watch(1, old.url, ready_path="/health", reads_props=True, deadline=time.monotonic() + 60)
    qtbot.waitUntil(lambda: len(old.requests) == 1, timeout=10_000)
    probe.watch(2, new.url, ready_path="/health", reads_props=True, deadline=time.monotonic() + 60)
    qtbot.waitUntil(lambda: len(new.requests) >= 2, timeout=10_000)
    old.release.set()
    qtbot.wait(300)
    probe.cancel()
    assert old.requests == [("/health", None)]  # never asked for /props: its answer was dropped
    assert events and all(event == ("loading", 2, None) for event in events)
