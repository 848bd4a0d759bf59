"""What each library model takes when loaded, for the endpoint's residency rules (Qt-free).

The estimate (:mod:`llama_wrangler.server.memory`) is computed with the settings the model would run with;
its mapped weights are page cache, which the residency room counts once (see
:mod:`llama_wrangler.server.endpoint.residency`). A model whose header cannot be estimated takes no room
in the plan (only the ``max_models`` cap applies to it) and the reason is logged once.

When several models may be loaded, each server's prompt cache is bounded (``--cache-ram``, see
:meth:`MemoryEstimate.bounded_prompt_cache_mib`) and the bound is counted, so caches that fill later
cannot push the machine out of memory: llama-server's default would let every server grow one to 8 GiB.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.registry import ModelRecord
from llama_wrangler.server.endpoint.residency import Needs
from llama_wrangler.server.memory import MemoryEstimate, MiB, estimate_memory
from llama_wrangler.server.memory_params import memory_params
from llama_wrangler.settings import ServerSettings

log = logging.getLogger(__name__)

_WARNED: set[str] = set()


def _estimate(record: ModelRecord, settings: ServerSettings, *, gpu: bool) -> MemoryEstimate | None:
    """The memory estimate of ``record`` served with ``settings`` (None when it cannot be made)."""
    try:
        projector = record.mmproj.stat().st_size if record.mmproj is not None else 0
        return estimate_memory(record.info, record.size_bytes, settings, projector_bytes=projector, gpu=gpu)
    except (ValueError, OSError) as exc:
        if record.id not in _WARNED:
            _WARNED.add(record.id)
            log.info("no memory estimate for %s: %s", record.id, exc)
        return None


def _prompt_cache(estimate: MemoryEstimate, *, several: bool) -> tuple[int, bool]:
    """(bytes the prompt cache may take, whether we pass that limit ourselves). One server alone keeps
    llama-server's default (it may use the machine; nothing else is planned beside it). Beside others, a
    cache the arguments leave at llama-server's default (8 GiB, each) is bounded by its context's size
    and counted; a limit the user set is counted as set (unlimited, ``-1``, cannot be)."""
    if not several:
        return 0, False
    if not estimate.prompt_cache_given:
        return estimate.bounded_prompt_cache_mib() * MiB, True
    return estimate.prompt_cache_limit_bytes or 0, False


def model_needs(records: Iterable[ModelRecord], server: ServerSettings, *, gpu: bool = False) -> dict[str, Needs]:
    """Each servable model's :class:`Needs`: its estimate with its own load settings (and, when several
    models may be loaded, its prompt cache's limit), its pin and idle TTL."""
    several = server.stable_endpoint and server.max_models > 1
    needs = {}
    for record in records:
        if record.missing:
            continue
        pinned, ttl = record.load.pinned, record.load.idle_ttl_s
        settings = record.load.apply(server)  # what it is served with
        estimate = _estimate(record, settings, gpu=gpu)
        if estimate is None:
            needs[record.id] = Needs(pinned=pinned, idle_ttl_s=ttl)
            continue
        mapped = estimate.weights_bytes if memory_params(settings).mmap else 0
        cache, cache_arg = _prompt_cache(estimate, several=several)
        needs[record.id] = Needs(ram_bytes=estimate.ram_bytes + cache, vram_bytes=estimate.vram_bytes,
                                 mapped_bytes=min(mapped, estimate.ram_bytes), cache_bytes=cache,
                                 cache_arg=cache_arg, pinned=pinned, idle_ttl_s=ttl)
    return needs


def prompt_cache_args(needs: dict[str, Needs]) -> dict[str, int]:
    """The ``--cache-ram`` (MiB) each model's server is started with where we bound its prompt cache."""
    return {model: need.cache_bytes // MiB for model, need in needs.items() if need.cache_arg}


def prompt_cache_bound(record: ModelRecord, load: LoadSettings | None, server: ServerSettings, *,
                       gpu: bool = False) -> int | None:
    """The ``--cache-ram`` (MiB) ``record`` starts with beside others when loaded with ``load`` (None
    when it adds none: one model at a time, its arguments set one, or no estimate)."""
    needs = model_needs([replace(record, load=load or LoadSettings())], server, gpu=gpu)
    return prompt_cache_args(needs).get(record.id)
