"""Sending one request to the llama-server behind the endpoint (the OpenAI relay and the Ollama routes)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

_ATTEMPTS = 4
# Waits before the 2nd, 3rd, 4th try. The 2nd goes at once: the usual cause is a pooled connection the
# server closed while idle, and a new one just works. Later ones wait: a llama-server whose HTTP threads
# are all busy (every slot streaming, the machine loaded) drops new connections for a moment, and three
# immediate tries could all meet it (bench/endpoint.py, 16 streams with both cores busy: about one
# request in three runs failed so).
_BACKOFF_S = (0.0, 0.1, 0.4)


async def send_upstream(session: aiohttp.ClientSession, method: str, url: str | URL,
                        **kwargs: Any) -> aiohttp.ClientResponse:
    """The upstream response. A connection the server closed before taking the request (a pooled one it
    dropped: llama-server closes them after streamed answers; or a fresh one it shed under load) is retried
    on a new one: nothing ran twice."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await session.request(method, url, **kwargs)
        except aiohttp.ClientConnectorError:
            raise  # nothing listens there: no point in another try
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            if attempt == _ATTEMPTS:
                raise
            log.info("the model server dropped the connection (%r); sending again", exc)
            if _BACKOFF_S[attempt - 1]:
                await asyncio.sleep(_BACKOFF_S[attempt - 1])
    raise AssertionError("unreachable")
