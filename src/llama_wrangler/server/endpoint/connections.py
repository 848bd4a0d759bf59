"""aiohttp's low-level server with the limits a public-facing endpoint needs.

- A cap on open connections: one over it is closed at once (a flood cannot exhaust file descriptors).
- An idle timeout (aiohttp's keep-alive timeout, which also runs from the moment a connection opens, so
  a client that connects and never sends a request is closed too).
- A header timeout: once a request's first byte arrives, its whole head must follow within
  ``header_timeout_s`` (a slowloris client trickling header bytes cannot hold a connection for the full
  idle timeout). aiohttp has no such setting, so :class:`_Connection` tightens its keep-alive deadline;
  ``tests/unit/server/test_endpoint_limits.py`` fails if an aiohttp upgrade changes what that relies on.
- A write timeout (:class:`ClientStream`): an answer's write that the client does not take for
  ``write_timeout_s`` drops the connection — a client that stops reading without closing would otherwise
  hold its request (and its model's lease) for ever. aiohttp has no such setting either.
- ``TCP_NODELAY`` on every accepted socket (aiohttp sets it; we check, because Nagle's algorithm meeting
  delayed ACKs costs ~40 ms per streamed event).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)


class _Connection(RequestHandler):
    """One client connection, with a deadline for a request's head."""

    header_timeout_s: Callable[[], float] = staticmethod(lambda: 15.0)  # set per server by LimitedServer

    def data_received(self, data: bytes) -> None:
        waiter = getattr(self, "_waiter", None)
        idle = waiter is not None and not waiter.done()  # between requests: this byte starts a head
        super().data_received(data)
        if idle and data and waiter is not None and not waiter.done():
            self._tighten_deadline(self.header_timeout_s())

    def _tighten_deadline(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        current = getattr(self, "_next_keepalive_close_time", None)
        if current is None or deadline >= current:
            return
        self._next_keepalive_close_time = deadline
        handle = getattr(self, "_keepalive_handle", None)
        if handle is not None:
            handle.cancel()
        self._keepalive_handle = loop.call_at(deadline, self._process_keepalive)


class LimitedServer(web.Server):
    """``web.Server`` with a connection cap and the header deadline; counts what it refused."""

    def __init__(self, handler: Callable[[web.BaseRequest], Any], *, max_connections: Callable[[], int],
                 header_timeout_s: Callable[[], float], idle_timeout_s: float) -> None:
        super().__init__(handler, handler_cancellation=True, keepalive_timeout=idle_timeout_s,
                         access_log=None)
        self._max_connections = max_connections
        self._connection_class = type("Connection", (_Connection,),
                                      {"header_timeout_s": staticmethod(header_timeout_s)})
        self.refused_connections = 0

    def __call__(self) -> RequestHandler:
        return self._connection_class(self, loop=self._loop, **self._kwargs)  # type: ignore[no-any-return]

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # aiohttp does too; never rely on it
        if len(self._connections) > self._max_connections():
            self.refused_connections += 1
            log.debug("connection refused: %d open", len(self._connections))
            transport.abort()

    @property
    def open_connections(self) -> int:
        return len(self._connections)


class ClientStream(web.StreamResponse):
    """A streamed answer whose every write must be taken by the client within ``write_timeout_s``; when
    it is not, the connection is dropped and the write raises ``ConnectionResetError`` — what a client
    that went away gives, so the callers' clean-up for that runs (the upstream closed, the lease back)."""

    def __init__(self, *, write_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._write_timeout_s = write_timeout_s

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        await self._in_time(super().write(data), memoryview(data).nbytes)

    async def write_eof(self, data: bytes = b"") -> None:
        # aiohttp's end of an answer waits for the client too (a drain), when the buffers are over their limit
        await self._in_time(super().write_eof(data), len(data))

    async def _in_time(self, writing: Coroutine[Any, Any, None], size: int) -> None:
        request = self._req  # write_eof forgets it
        transport = request.transport if request is not None else None
        if transport is None or (not transport.get_write_buffer_size()
                                 and size <= transport.get_write_buffer_limits()[1] // 2):
            # Nothing waits to go out and this write cannot take the buffer over its limit alone (a big
            # one can: what the socket does not take waits for the client): it cannot wait on the client.
            # The common case, once per streamed event, so it stays free of a timer.
            await writing
            return
        try:
            async with asyncio.timeout(self._write_timeout_s):
                await writing
        except TimeoutError:
            log.info("a client took nothing for %.0f s: dropped", self._write_timeout_s)
            transport.abort()
            raise ConnectionResetError("the client stopped reading") from None
