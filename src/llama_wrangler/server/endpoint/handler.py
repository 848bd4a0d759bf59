"""One request through the stable endpoint: who may call, which model it needs, and the relay.

Order matters: the Origin and the API key are checked on the head alone, before a byte of the body is
read (a stranger cannot make us buffer 64 MiB, nor trigger a model load); then the body (capped), the
model it names, a lease from the scheduler (waiting while that model loads), and the relay — the
upstream's bytes are written as they come, so server-sent events keep llama-server's framing and pace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
from aiohttp import web
from yarl import URL

from llama_wrangler.server.endpoint.config import PARSE_ON_LOOP_BYTES, EndpointConfig
from llama_wrangler.server.endpoint.connections import ClientStream
from llama_wrangler.server.endpoint.control_api import CONTROL_PATHS, ControlApi
from llama_wrangler.server.endpoint.lease import Lease, Unavailable
from llama_wrangler.server.endpoint.ollama_api import OllamaApi
from llama_wrangler.server.endpoint.ollama_wire import ModelFacts
from llama_wrangler.server.endpoint.scheduler import ModelScheduler
from llama_wrangler.server.endpoint.upstream import send_upstream
from llama_wrangler.server.endpoint.wire import (
    authorized,
    cors_headers,
    error_body,
    forwardable_headers,
    model_document,
    models_document,
    origin_allowed,
    requested_model,
    sse_error_event,
)

log = logging.getLogger(__name__)

_ONE_MODEL = "/v1/models/"
BROKEN_OFF = ("The model server stopped while answering this request (it crashed or was stopped); "
              "retry it.")


class _TooLargeError(Exception):
    pass


class EndpointHandler:
    """The request handler of :class:`~.server.EndpointServer` (runs on its event loop)."""

    def __init__(self, config: Callable[[], EndpointConfig], scheduler: ModelScheduler,
                 catalog: Callable[[], list[str]], session: Callable[[], aiohttp.ClientSession], *,
                 aliases: Callable[[], dict[str, str]] = dict,
                 facts: Callable[[], dict[str, ModelFacts]] = dict) -> None:
        self._config = config
        self._scheduler = scheduler
        self._catalog = catalog
        self._aliases = aliases
        self._session = session
        self._ollama = OllamaApi(scheduler, catalog, aliases, facts, session,  # /api/...: Ollama's routes
                                 write_timeout_s=lambda: self._config().write_timeout_s)
        self._control = ControlApi(scheduler, catalog, aliases)  # /models...: load, unload, what is loaded

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        config = self._config()
        origin = request.headers.get("Origin", "")
        cors: dict[str, str] = {}
        if origin:
            if not origin_allowed(origin, config.cors_origins):
                return _error(403, f"Pages from {origin} may not call this endpoint (see the CORS setting).",
                              "permission_error", close=True)
            cors = cors_headers(origin, preflight=request.method == "OPTIONS",
                                requested_headers=request.headers.get("Access-Control-Request-Headers", ""))
            if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                return web.Response(status=204, headers=cors)  # a preflight carries no credentials
        if not authorized(request.headers, config.api_key):
            # close=True: the unread body is never read, the connection goes with it.
            return _error(401, "Invalid API key.", "authentication_error", "invalid_api_key", cors, close=True)
        if request.method == "HEAD" and request.path == "/":
            # The Ollama CLI's heartbeat (and many "is it up?" checks): answered here, never relayed, so it
            # neither waits for a model that is loading nor fails while none is loaded.
            return web.Response(status=200, headers=cors)
        if request.method == "GET" and request.path.rstrip("/") == "/v1/models":
            states = self._scheduler.model_states(self._catalog())
            return web.Response(body=models_document(states), content_type="application/json", headers=cors)
        if request.method == "GET" and request.path.startswith(_ONE_MODEL):  # OpenAI's models.retrieve
            return self._one_model(request.path[len(_ONE_MODEL):], cors)
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _TooLargeError:
            return _error(413, f"The request body is over {config.max_body_bytes // (1024 * 1024)} MiB.",
                          "invalid_request_error", None, cors, close=True)
        if request.path.startswith("/api/"):
            return await self._ollama.handle(request, body, cors)
        if request.path.rstrip("/") in CONTROL_PATHS:
            return await self._control.handle(request, body, cors)
        content_type = request.headers.get("Content-Type", "")
        if len(body) > PARSE_ON_LOOP_BYTES:  # a prompt full of images: parsed off the loop
            model = await asyncio.to_thread(requested_model, content_type, body)
        else:
            model = requested_model(content_type, body)
        if model is None and request.method in ("GET", "HEAD"):
            model = request.query.get("model") or None  # GET /props?model=x, as llama.cpp's router routes it
        if model is not None:
            model = self._aliases().get(model, model)  # "Llama 3.2 1B Instruct" means its library id
        if model is not None and model != self._scheduler.served_model and model not in self._known():
            return _error(404, f"The model '{model}' is not in the library.", "invalid_request_error",
                          "model_not_found", cors)
        try:
            lease = await self._scheduler.acquire(model)
        except Unavailable as exc:
            if request.method == "GET" and request.path == "/" and model is None:
                return _front_page(str(exc), cors)
            kind = "invalid_request_error" if exc.status == 404 else "unavailable"
            return _error(exc.status, str(exc), kind, exc.code, exc.headers(cors))
        try:
            return await self._relay(request, lease, body, cors)
        finally:
            self._scheduler.release(lease)

    def _known(self) -> set[str]:
        """Models a request may name: the library's, and any loaded one outside it (``serve ./x.gguf``)."""
        return {model for model, _state in self._scheduler.model_states(self._catalog())}

    def _one_model(self, name: str, cors: dict[str, str]) -> web.Response:
        """One model by id or alias (any id may hold a ``/``: the rest of the path is the name); the
        model servers behind us have no such route, and an unloaded model is one of ours all the same."""
        model = self._aliases().get(name, name)
        states = dict(self._scheduler.model_states(self._catalog()))
        if model not in states:
            return _error(404, f"The model '{name}' is not in the library.", "invalid_request_error",
                          "model_not_found", cors)
        return web.Response(body=model_document(model, states[model]), content_type="application/json",
                            headers=cors)

    async def _relay(self, request: web.BaseRequest, lease: Lease, body: bytes,
                     cors: dict[str, str]) -> web.StreamResponse:
        try:
            upstream = await self._send(request, lease, body)
        except aiohttp.ClientError as exc:
            log.warning("the model server did not answer: %r", exc)
            return _error(502, BROKEN_OFF, "unavailable", "backend_unavailable", cors)
        # llama-server closes a connection after a chunked (streamed) answer although it offers keep-alive:
        # such a connection is closed here too, never handed to the next request.
        streamed = "Transfer-Encoding" in upstream.headers
        try:
            response = ClientStream(status=upstream.status, reason=upstream.reason,
                                    write_timeout_s=self._config().write_timeout_s)
            for name, value in forwardable_headers(upstream.headers.items()):
                response.headers.add(name, value)
            response.headers.update(cors)
            length = upstream.headers.get("Content-Length")
            if length is not None and not streamed:
                response.content_length = int(length)
            await response.prepare(request)
            if request.method != "HEAD":
                await self._copy(upstream, response, request)
            return response
        except ConnectionResetError:  # the client went away: closing upstream stops the generation
            streamed = True
            return response
        finally:
            if streamed:
                upstream.close()
            else:
                upstream.release()

    async def _send(self, request: web.BaseRequest, lease: Lease, body: bytes) -> aiohttp.ClientResponse:
        url = URL(lease.url + request.raw_path, encoded=True)
        data = body if body or request.method in ("POST", "PUT", "PATCH") else None
        return await send_upstream(self._session(), request.method, url, data=data,
                                   headers=forwardable_headers(request.headers.items()), allow_redirects=False)

    @staticmethod
    async def _copy(upstream: aiohttp.ClientResponse, response: web.StreamResponse,
                    request: web.BaseRequest) -> None:
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except ConnectionResetError:
            raise  # the client went away (aiohttp's error for that is a ClientError too)
        except aiohttp.ClientError as exc:  # the model server died mid-answer
            log.warning("the model server broke off a response: %r", exc)
            if "text/event-stream" in upstream.headers.get("Content-Type", ""):
                await response.write(sse_error_event(BROKEN_OFF))
            request.protocol.force_close()  # the client must not take the cut body for a whole one
            return
        await response.write_eof()


async def _read_body(request: web.BaseRequest, cap: int) -> bytes:
    if request.content_length is not None and request.content_length > cap:
        raise _TooLargeError
    parts: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
        if total > cap:
            raise _TooLargeError
        parts.append(chunk)
    return b"".join(parts)


def _front_page(reason: str, cors: dict[str, str]) -> web.Response:
    """``GET /`` while no model answers (with one, it is llama-server's own chat page): the endpoint is up
    — what Ollama's ``GET /`` tells health checks — and why no model is there."""
    text = (f"Llama Wrangler's endpoint is running (OpenAI API under /v1, Ollama API under /api).\n"
            f"No model answers here now: {reason}\n")
    return web.Response(status=200, text=text, headers=cors)


def _error(status: int, message: str, kind: str, code: str | None = None,
           headers: dict[str, str] | None = None, *, close: bool = False) -> web.Response:
    response = web.Response(status=status, body=error_body(message, kind, code), content_type="application/json",
                            headers=headers)
    if close:
        response.force_close()
    return response
