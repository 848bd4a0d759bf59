"""Sending one request to the llama-server behind the endpoint (the OpenAI relay and the Ollama routes)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

_ATTEMPTS = 3


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
    raise AssertionError("unreachable")
