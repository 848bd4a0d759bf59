"""The stable endpoint's event-loop thread: an aiohttp server and client on one loop.

The port is bound on the caller's thread (a busy port fails at once, where the caller can say so);
everything after that happens on the loop thread. Other threads talk to it only through :meth:`call`
(``call_soon_threadsafe``) — the Qt side posts supervisor snapshots and drains that way, and the loop
posts model requests back through a queued Qt signal (see :mod:`.link`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.connections import LimitedServer
from llama_wrangler.server.endpoint.handler import EndpointHandler
from llama_wrangler.server.endpoint.ollama_wire import ModelFacts
from llama_wrangler.server.endpoint.scheduler import ModelScheduler
from llama_wrangler.server.ports import connect_host, url_host

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0
_CLOSE_TIMEOUT_S = 5.0
SHUTTING_DOWN = "The endpoint is shutting down."

T = TypeVar("T")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port); OSError when it is taken."""
    family, _kind, _proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if hasattr(socket, "SO_REUSEADDR") and not hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            # POSIX: lets us rebind over TIME_WAIT leftovers, never over a live listener (Windows differs).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class EndpointServer:
    """The endpoint on ``host:port``. ``on_load(model_id, victims)`` is called on the loop thread when
    requests need a model that is neither served nor on its way (``victims``: models to unload first), and
    ``on_unload(model_id)`` when a model is to be unloaded; both must only post to the supervisors' thread."""

    def __init__(self, host: str, port: int, config: EndpointConfig,
                 on_load: Callable[[str, tuple[str, ...]], None],
                 on_unload: Callable[[str], None] = lambda _model: None) -> None:
        self._sock = bind_socket(host, port)
        self._host = host
        self.config = config  # replaced whole (set_config); read by the loop
        self.on_load = on_load  # replaceable (the Qt link sets its signal's emit)
        self.on_unload = on_unload
        self._catalog: list[str] = []
        self._aliases: dict[str, str] = {}
        self._facts: dict[str, ModelFacts] = {}
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._started: Future[None] = Future()
        self._stopped = asyncio.Event()
        # Made now, so calls posted before start() find it (they run once the loop does).
        self.scheduler = ModelScheduler(config, lambda model, victims: self.on_load(model, victims), self._loop,
                                        on_unload=lambda model: self.on_unload(model))
        self.web_server: LimitedServer | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """Base URL clients use (``http://127.0.0.1:8080``)."""
        return f"http://{url_host(connect_host(self._host))}:{self.port}"

    @property
    def thread_id(self) -> int | None:
        """The loop thread's native id (benches read its CPU time), None before start()."""
        return self._thread.native_id if self._thread is not None else None

    def start(self) -> None:
        """Serve on a thread of its own; returns once requests are being accepted."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="stable-endpoint", daemon=True)
        self._thread.start()
        self._started.result()

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the loop (from any thread; before start() it runs once the loop
        does); dropped once closed."""
        with contextlib.suppress(RuntimeError):  # closed: nothing is served any more
            self._loop.call_soon_threadsafe(function, *args)

    def ask(self, question: Callable[[], T], timeout_s: float = 10.0) -> T:
        """``question()``'s answer, computed on the loop (the scheduler's counts, for tests and benches)."""
        answer: Future[T] = Future()

        def run() -> None:
            try:
                answer.set_result(question())
            except Exception as exc:
                answer.set_exception(exc)

        self.call(run)
        return answer.result(timeout_s)

    def set_config(self, config: EndpointConfig) -> None:
        self.config = config
        self.call(self.scheduler.set_config, config)

    def set_catalog(self, model_ids: list[str], aliases: dict[str, str] | None = None,
                    facts: dict[str, ModelFacts] | None = None) -> None:
        """The servable ids, other names clients may use for them (a model's display name), and what
        Ollama clients are told about each (``/api/tags``, ``/api/show``)."""
        # Replaced whole, never mutated: safe to read on the loop.
        self._catalog = list(model_ids)
        self._aliases = dict(aliases or {})
        self._facts = dict(facts or {})

    def close(self) -> None:
        """Stop accepting, end the connections (requests in flight are cut off) and free the port."""
        if self._thread is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join()
        elif self._thread is None:
            self._sock.close()
            self._loop.close()

    # ----------------------------------------------------------------- on the loop thread
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:
            if not self._started.done():
                self._started.set_exception(exc)
            else:
                log.exception("the stable endpoint stopped")
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _serve(self) -> None:
        config = self.config
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0, enable_cleanup_closed=False)
        # No read timeout: a long generation may pause between tokens for as long as it likes.
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None, connect=_CONNECT_TIMEOUT_S, sock_read=None),
            skip_auto_headers=("Accept-Encoding", "User-Agent"))
        handler = EndpointHandler(lambda: self.config, self.scheduler, lambda: self._catalog, self._get_session,
                                  aliases=lambda: self._aliases, facts=lambda: self._facts)
        self.web_server = LimitedServer(handler, max_connections=lambda: self.config.max_connections,
                                        header_timeout_s=lambda: self.config.header_timeout_s,
                                        idle_timeout_s=config.idle_timeout_s)
        runner = web.ServerRunner(self.web_server, shutdown_timeout=_CLOSE_TIMEOUT_S)
        await runner.setup()
        site = web.SockSite(runner, self._sock)
        await site.start()
        self._started.set_result(None)
        try:
            await self._stopped.wait()
        finally:
            self.scheduler.close(SHUTTING_DOWN)
            await runner.cleanup()
            await self._session.close()
            self._sock.close()

    def _get_session(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

