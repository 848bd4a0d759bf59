"""The endpoint's model control routes, named as llama.cpp's router names them:

- ``GET /models``: every library model with its state (``status.value``: loaded, loading, unloaded,
  failed) and, for a loaded one, its server (pid), requests running and queued, idle seconds, idle TTL,
  pinning, the memory estimate the plan counts (with the prompt cache's limit, also given apart) and
  the process's resident memory (RSS);
- ``POST /models/load {"model": "..."}``: load it by the same rules as a request (beside the others when
  it fits, else after unloading the least-recently-used idle ones) and answer once it is ready; a model
  loaded this way is the user's: no default idle TTL;
- ``POST /models/unload {"model": "..."}``: unload it (its running requests finish first).

``llama-wrangler ps|load|unload`` are clients of these routes. The API key and CORS checks have run before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from llama_wrangler.server.endpoint.lease import ResidentView, Unavailable
from llama_wrangler.server.endpoint.scheduler import ModelScheduler
from llama_wrangler.server.endpoint.wire import error_body
from llama_wrangler.server.machine_memory import process_rss

CONTROL_PATHS = ("/models", "/models/load", "/models/unload")


def _rss(pids: list[int]) -> dict[int, int]:
    sizes = {pid: process_rss(pid) for pid in pids}
    return {pid: size for pid, size in sizes.items() if size is not None}  # gone meanwhile: left out


def models_status(states: list[tuple[str, str]], residents: list[ResidentView],
                  rss: dict[int, int]) -> dict[str, Any]:
    by_model = {view.model: view for view in residents}
    data = []
    for model, state in states:
        entry: dict[str, Any] = {"id": model, "object": "model", "owned_by": "llama-wrangler",
                                 "status": {"value": state}, "state": state}
        view = by_model.get(model)
        if view is not None:
            entry["resident"] = {
                "slot": view.slot, "server_state": view.state, "pid": view.pid, "in_flight": view.in_flight,
                "queued": view.queued, "idle_s": round(view.idle_s, 1), "ttl_s": view.ttl_s,
                "pinned": view.pinned, "loaded_by": "user" if view.by_user else "request",
                "estimate_bytes": view.ram_bytes + view.vram_bytes,
                "estimate_vram_bytes": view.vram_bytes, "prompt_cache_limit_bytes": view.cache_bytes,
                "rss_bytes": rss.get(view.pid), "default": view.default}
        data.append(entry)
    return {"object": "list", "data": data}


class ControlApi:
    def __init__(self, scheduler: ModelScheduler, catalog: Callable[[], list[str]],
                 aliases: Callable[[], dict[str, str]]) -> None:
        self._scheduler = scheduler
        self._catalog = catalog
        self._aliases = aliases

    async def handle(self, request: web.BaseRequest, body: bytes, cors: dict[str, str]) -> web.Response:
        path = request.path.rstrip("/")
        if path == "/models":
            if request.method not in ("GET", "HEAD"):
                return _error(405, "/models takes GET", cors)
            residents = self._scheduler.residents()
            rss = await asyncio.to_thread(_rss, [view.pid for view in residents if view.pid])
            doc = models_status(self._scheduler.model_states(self._catalog()), residents, rss)
            return web.json_response(doc, headers=cors)
        if request.method != "POST":
            return _error(405, f"{path} takes POST", cors)
        try:
            parsed = json.loads(body or b"{}")
        except ValueError as exc:
            return _error(400, f"The body is not JSON: {exc}", cors)
        name = parsed.get("model") if isinstance(parsed, dict) else None
        if not isinstance(name, str) or not name:
            return _error(400, 'The body must name a model: {"model": "..."}', cors)
        model = self._aliases().get(name, name)
        if path == "/models/unload":
            if not self._scheduler.unload(model):
                return _error(400, f"The model '{name}' is not loaded.", cors, "model_not_loaded")
            return web.json_response({"success": True, "model": model}, headers=cors)
        known = {known for known, _state in self._scheduler.model_states(self._catalog())}  # loaded ones too
        if model not in known and model != self._scheduler.served_model:
            return _error(404, f"The model '{name}' is not in the library.", cors, "model_not_found")
        self._scheduler.want(model)
        try:
            lease = await self._scheduler.acquire(model, wait=True)
        except Unavailable as exc:
            return _error(exc.status, str(exc), exc.headers(cors), exc.code)
        self._scheduler.release(lease)
        return web.json_response({"success": True, "model": model}, headers=cors)


def _error(status: int, message: str, headers: dict[str, str], code: str | None = None) -> web.Response:
    return web.Response(status=status, body=error_body(message, "invalid_request_error" if status < 500
                                                       else "unavailable", code),
                        content_type="application/json", headers=headers)
