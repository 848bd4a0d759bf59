"""Ollama's REST API on the stable endpoint's port, translated onto llama-server's OpenAI routes.

:class:`EndpointHandler` hands every ``/api/...`` request here after its Origin and API-key checks and
the capped body read; a request naming a model goes through the same scheduler as the OpenAI routes
(a model that is not served is loaded, waiting like any other request). Streams are written as Ollama
writes them: one JSON object per line (``application/x-ndjson``), ``done: false`` chunks, then a
``done: true`` object with the counts and durations. The translation itself is in :mod:`.ollama_wire`.

``keep_alive`` (a bad one is a 400, as in Ollama) becomes the model's idle TTL in the scheduler: ``0``
unloads it once its requests are done, a negative one keeps it loaded; an empty prompt with
``keep_alive: 0`` is Ollama's unload (``ollama stop``). ``/api/ps`` lists every loaded model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from llama_wrangler.server.endpoint import ollama_context as context
from llama_wrangler.server.endpoint import ollama_embed as embed
from llama_wrangler.server.endpoint import ollama_infill as infill
from llama_wrangler.server.endpoint import ollama_wire as wire
from llama_wrangler.server.endpoint.config import PARSE_ON_LOOP_BYTES, WRITE_TIMEOUT_S
from llama_wrangler.server.endpoint.connections import ClientStream
from llama_wrangler.server.endpoint.lease import Lease, Unavailable
from llama_wrangler.server.endpoint.scheduler import ModelScheduler
from llama_wrangler.server.endpoint.upstream import send_upstream

log = logging.getLogger(__name__)

_PASSED_HEADERS = ("Authorization", "X-Api-Key")  # llama-server behind us may check the same key


class OllamaApi:
    def __init__(self, scheduler: ModelScheduler, catalog: Callable[[], list[str]],
                 aliases: Callable[[], dict[str, str]], facts: Callable[[], dict[str, wire.ModelFacts]],
                 session: Callable[[], aiohttp.ClientSession], *,
                 write_timeout_s: Callable[[], float] = lambda: WRITE_TIMEOUT_S) -> None:
        self._scheduler = scheduler
        self._write_timeout_s = write_timeout_s
        self._catalog = catalog
        self._aliases = aliases
        self._facts = facts
        self._session = session

    async def handle(self, request: web.BaseRequest, body: bytes, cors: dict[str, str]) -> web.StreamResponse:
        path, method = request.path.rstrip("/"), request.method
        if method in ("GET", "HEAD") and path == "/api/version":
            return _json(json.dumps({"version": wire.OLLAMA_VERSION}).encode(), cors)
        if method in ("GET", "HEAD") and path == "/api/tags":
            return _json(wire.tags_doc(self._models(), self._facts()), cors)
        if method in ("GET", "HEAD") and path == "/api/ps":
            return _json(wire.ps_doc(self._scheduler.residents(), self._facts(), time.time()), cors)
        routes = {"/api/show": self._show, "/api/chat": self._chat, "/api/generate": self._generate,
                  "/api/embed": self._embed, "/api/embeddings": self._embed}
        if path not in routes:
            return _error(404, f"{method} {path} is not part of the Ollama API served here", cors)
        if method != "POST":
            return _error(405, f"{path} takes POST", cors)
        try:
            text = body or b"{}"
            # a prompt full of images: parsed off the loop, as the OpenAI routes do
            parsed = await asyncio.to_thread(json.loads, text) if len(text) > PARSE_ON_LOOP_BYTES else json.loads(text)
        except ValueError as exc:
            return _error(400, f"the body is not JSON: {exc}", cors)
        if not isinstance(parsed, dict):
            return _error(400, "the body must be a JSON object", cors)
        try:
            return await routes[path](request, parsed, cors)
        except wire.OllamaRequestError as exc:
            return _error(400, str(exc), cors)

    # ----------------------------------------------------------------- routes
    async def _show(self, _request: web.BaseRequest, parsed: dict[str, Any], cors: dict[str, str]) -> web.Response:
        name = _name(parsed)
        model = wire.resolve_name(name, self._models(), self._aliases())
        if model is None:
            return _not_found(name, cors)
        return _json(wire.show_doc(model, self._facts().get(model, wire.ModelFacts())), cors)

    async def _chat(self, request: web.BaseRequest, parsed: dict[str, Any],
                    cors: dict[str, str]) -> web.StreamResponse:
        if not parsed.get("messages"):
            return await self._load_only(parsed, cors, chat=True)
        return await self._generation(request, parsed, cors, chat=True)

    async def _generate(self, request: web.BaseRequest, parsed: dict[str, Any],
                        cors: dict[str, str]) -> web.StreamResponse:
        if not parsed.get("prompt") and not parsed.get("images"):
            return await self._load_only(parsed, cors, chat=False)
        return await self._generation(request, parsed, cors, chat=False)

    async def _embed(self, request: web.BaseRequest, parsed: dict[str, Any], cors: dict[str, str]) -> web.Response:
        legacy = request.path.rstrip("/") == "/api/embeddings"
        model, failure = self._model(parsed, cors)
        if failure is not None:
            return failure
        assert model is not None
        openai_body = embed.embed_body(parsed, model, legacy=legacy)
        dimensions = 0 if legacy else embed.embed_dimensions(parsed)
        started = time.monotonic_ns()
        lease, failure = await self._lease(model, cors, parsed)
        if failure is not None:
            return failure
        assert lease is not None
        load_ns = time.monotonic_ns() - started
        if not openai_body["input"]:  # nothing to embed: Ollama's way to load an embedding model
            self._done(lease)
            nothing = embed.embed_answer({}, _name(parsed), legacy=legacy, started_ns=started, load_ns=load_ns)
            return _json(nothing, cors)
        try:
            status, answer = await self._embed_once(request, lease, openai_body)
            texts, limit = list(openai_body["input"]), None
            for _attempt in range(2):  # the batch, then maybe a slot's smaller context: each says its size
                refused = embed.batch_limit(wire.upstream_error(status, answer)) if status != 200 else None
                if refused is None or legacy or (limit is not None and refused >= limit):
                    break
                if not embed.truncates(parsed):
                    return _error(400, embed.TOO_LONG, cors)
                limit = refused
                openai_body["input"] = [await self._cut(request, lease, text, limit) for text in texts]
                status, answer = await self._embed_once(request, lease, openai_body)
            if status != 200:
                return _error(status, wire.upstream_error(status, answer), cors)
            return _json(embed.embed_answer(json.loads(answer), _name(parsed), legacy=legacy, started_ns=started,
                                            load_ns=load_ns, dimensions=dimensions), cors)
        except aiohttp.ClientError as exc:
            return _error(502, f"the model server did not answer: {exc}", cors)
        finally:
            self._done(lease)

    async def _embed_once(self, request: web.BaseRequest, lease: Lease, body: dict[str, Any]) -> tuple[int, bytes]:
        async with await self._post(request, lease, "/v1/embeddings", body) as upstream:
            return upstream.status, await upstream.read()

    async def _cut(self, request: web.BaseRequest, lease: Lease, text: str, limit: int) -> list[int]:
        """``text`` as at most ``limit`` of its tokens (llama-server embeds a list of token ids as it is)."""
        tokens = []
        for special in (True, False):
            body = {"content": text, "add_special": special}
            async with await self._post(request, lease, "/tokenize", body) as reply:
                reply.raise_for_status()
                tokens.append([int(token) for token in (await reply.json())["tokens"]])
        return embed.cut_tokens(tokens[0], tokens[1], limit)

    # ----------------------------------------------------------------- the shared path
    async def _load_only(self, parsed: dict[str, Any], cors: dict[str, str], *, chat: bool) -> web.Response:
        """An empty prompt: Ollama loads the model and says so. With ``keep_alive: 0`` it is Ollama's
        unload request (``ollama stop``): the model is unloaded once its running requests are done."""
        model, failure = self._model(parsed, cors)
        if failure is not None:
            return failure
        assert model is not None
        if wire.parse_keep_alive(parsed.get("keep_alive")) == 0:
            self._scheduler.unload(model)
            return _json(wire.load_answer(_name(parsed), chat=chat, reason="unload"), cors)
        lease, failure = await self._lease(model, cors, parsed)
        if failure is not None:
            return failure
        assert lease is not None
        self._done(lease)
        return _json(wire.load_answer(_name(parsed), chat=chat), cors)

    async def _generation(self, request: web.BaseRequest, parsed: dict[str, Any], cors: dict[str, str], *,
                          chat: bool) -> web.StreamResponse:
        model, failure = self._model(parsed, cors)
        if failure is not None:
            return failure
        assert model is not None
        if chat:
            route, openai_body = "/v1/chat/completions", wire.chat_body(parsed, model)
        else:
            route, openai_body = wire.generate_body(parsed, model)
        started = time.monotonic_ns()
        lease, failure = await self._lease(model, cors, parsed)
        if failure is not None:
            return failure
        assert lease is not None
        load_ns = time.monotonic_ns() - started
        try:
            upstream = await self._post(request, lease, route, openai_body)
            if chat:
                upstream = await self._fit_context(request, lease, openai_body, upstream)
        except aiohttp.ClientError as exc:
            self._done(lease)
            return _error(502, f"the model server did not answer: {exc}", cors)
        except asyncio.CancelledError:  # the client went away before the answer started (a whole one
            self._done(lease)           # starts only once generated): its model must not stay busy
            raise
        try:
            if route == infill.INFILL_ROUTE and upstream.status == infill.NOT_SUPPORTED:
                return _error(400, f"{_name(parsed)} does not support insert (it has no fill-in-the-middle "
                              "tokens)", cors)
            if upstream.status != 200:
                return _error(upstream.status, wire.upstream_error(upstream.status, await upstream.read()), cors)
            if not wire.wants_stream(parsed):
                answer = json.loads(await upstream.read())
                if infill.is_native(answer):
                    answer = infill.as_openai(answer)
                return _json(wire.whole_answer(answer, _name(parsed), chat=chat, started_ns=started,
                                               load_ns=load_ns), cors)
            return await self._stream(request, upstream, _name(parsed), cors, chat=chat,
                                      started_ns=started, load_ns=load_ns)
        except aiohttp.ClientError as exc:
            log.warning("the model server broke off an Ollama request: %r", exc)
            return _error(502, f"the model server stopped while answering: {exc}", cors)
        finally:
            upstream.close()
            self._done(lease)

    async def _stream(self, request: web.BaseRequest, upstream: aiohttp.ClientResponse, name: str,
                      cors: dict[str, str], *, chat: bool, started_ns: int, load_ns: int) -> web.StreamResponse:
        response = ClientStream(status=200, headers={**cors, "Content-Type": wire.NDJSON},
                                write_timeout_s=self._write_timeout_s())
        await response.prepare(request)
        buffer = bytearray()
        finish: Any = None
        last: dict[str, Any] = {}  # the usage and timings llama-server ends its stream with
        calls: dict[int, dict[str, Any]] = {}  # streamed tool calls, pieced together by index
        try:
            async for piece in upstream.content.iter_any():
                buffer.extend(piece)
                for event in wire.sse_events(buffer):
                    if event is None:
                        continue
                    if event.get("error"):  # the model server failed mid-answer: Ollama's error line ends it
                        await response.write(wire.error_doc(wire.upstream_error(500, json.dumps(event).encode()))
                                             + b"\n")
                        await response.write_eof()
                        return response
                    if infill.is_native(event):  # /infill streams llama.cpp's own objects
                        event = infill.as_openai(event)
                    for key in ("usage", "timings"):
                        if event.get(key):
                            last[key] = event[key]
                    for choice in event.get("choices") or []:
                        finish = choice.get("finish_reason") or finish
                        delta = choice.get("delta") or {}
                        for call in delta.get("tool_calls") or []:
                            _merge_call(calls.setdefault(int(call.get("index", 0)), {}), call)
                        text = delta.get("content") or choice.get("text") or ""
                        thinking = delta.get("reasoning_content") or ""
                        if text or thinking:
                            doc = wire.chunk_doc(name, chat=chat, text=text, thinking=thinking)
                            await response.write(json.dumps(doc).encode() + b"\n")
            if calls:
                doc = wire.chunk_doc(name, chat=chat, text="", tool_calls=[calls[i] for i in sorted(calls)])
                await response.write(json.dumps(doc).encode() + b"\n")
            await response.write(wire.final_chunk(name, chat=chat, finish=finish,
                                                  stats=wire.final_stats(last, started_ns, load_ns)))
        except ConnectionResetError:  # the client went away: closing upstream (by our caller) stops it
            return response
        except aiohttp.ClientError as exc:
            log.warning("the model server broke off an Ollama stream: %r", exc)
            broke_off = f"the model server stopped while answering: {exc}"
            with contextlib.suppress(ConnectionResetError):
                await response.write(wire.error_doc(broke_off) + b"\n")
        with contextlib.suppress(ConnectionResetError):  # its end waits for the client too (write timeout)
            await response.write_eof()
        return response

    # ----------------------------------------------------------------- helpers
    def _models(self) -> list[str]:
        """The models Ollama clients may name: the library's, and any loaded one outside it (``serve
        ./x.gguf`` with a file the library does not hold), as ``/v1/models`` lists them."""
        return [model for model, _state in self._scheduler.model_states(self._catalog())]

    def _model(self, parsed: dict[str, Any], cors: dict[str, str]) -> tuple[str | None, web.Response | None]:
        name = _name(parsed)
        if not name:
            return None, _error(400, "model is required", cors)
        model = wire.resolve_name(name, self._models(), self._aliases())
        if model is None:
            return None, _not_found(name, cors)
        wire.parse_keep_alive(parsed.get("keep_alive"))  # a bad one is a 400 before anything loads
        return model, None

    async def _lease(self, model: str, cors: dict[str, str],
                     parsed: dict[str, Any]) -> tuple[Lease | None, web.Response | None]:
        try:
            lease = await self._scheduler.acquire(model)
        except Unavailable as exc:
            return None, _error(exc.status, str(exc), exc.headers(cors))
        # Only now: "0" must unload after this request, not before it. None (none sent): the model's own
        # idle time again, as each Ollama request sets how long its model stays.
        self._scheduler.keep_alive(model, wire.parse_keep_alive(parsed.get("keep_alive")))
        return lease, None

    def _done(self, lease: Lease) -> None:
        self._scheduler.release(lease)

    async def _fit_context(self, request: web.BaseRequest, lease: Lease, body: dict[str, Any],
                           upstream: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
        """A chat llama-server refused as longer than the context is sent again without its oldest
        messages, as Ollama truncates (see :mod:`.ollama_context`); any other answer is returned as is."""
        previous: tuple[int, int] | None = None  # (prompt tokens, weight) of the try before
        for _ in range(context.MAX_TRIES):
            if upstream.status != 400:
                return upstream
            over = context.overflow(await upstream.read())  # kept: a later read() gets it again
            fewer = context.fewer_messages(body["messages"], *over, previous) if over is not None else None
            if fewer is None or over is None:
                return upstream
            previous = (over[0], context.weight(body["messages"]))
            log.info("a chat of %d messages is over the context (%d of %d tokens): the oldest %d left out",
                     len(body["messages"]), over[0], over[1],
                     len(body["messages"]) - len(fewer))
            upstream.close()
            body = {**body, "messages": fewer}
            upstream = await self._post(request, lease, "/v1/chat/completions", body)
        return upstream

    async def _post(self, request: web.BaseRequest, lease: Lease, route: str,
                    body: dict[str, Any]) -> aiohttp.ClientResponse:
        headers = {name: request.headers[name] for name in _PASSED_HEADERS if name in request.headers}
        return await send_upstream(self._session(), "POST", lease.url + route, json=body, headers=headers)


def _merge_call(into: dict[str, Any], delta: dict[str, Any]) -> None:
    function = into.setdefault("function", {"name": "", "arguments": ""})
    piece = delta.get("function") or {}
    function["name"] += piece.get("name") or ""
    function["arguments"] += piece.get("arguments") or ""


def _name(parsed: dict[str, Any]) -> str:
    return str(parsed.get("model") or parsed.get("name") or "")


def _json(body: bytes, cors: dict[str, str]) -> web.Response:
    return web.Response(body=body, content_type="application/json", headers=cors)


def _not_found(name: str, cors: dict[str, str]) -> web.Response:
    return web.Response(status=404, body=wire.not_found(name), content_type="application/json", headers=cors)


def _error(status: int, message: str, cors: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=wire.error_doc(message), content_type="application/json", headers=cors)
