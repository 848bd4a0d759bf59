"""Which resident models must go so that another one fits: memory-aware, least-recently-used first.

Pure functions (no clock, no I/O), used by the scheduler on the endpoint's loop. The rules:
- A model fits when every resident plus it stay within the memory room (RAM and, with a GPU, VRAM) and
  within the global count cap (``max_models``; 0 = no count cap).
- Otherwise unpinned residents are unloaded until it fits: idle ones first, least recently used first, then
  busy ones (their running requests drain first), least recently used first.
- A model that cannot fit even with every unpinned resident gone is refused when pinned residents are in
  the way (the user said to keep them); with nothing pinned it is loaded alone anyway — the estimate is a
  guide, and a user who asks for one big model should get it, as before residency existed.

The room (see :func:`auto_room`): what the OS says is available, plus what our residents would give back
if all were unloaded — their anonymous memory (KV cache, compute buffers). Their mapped weights are page
cache, which the OS already counts as available, so they are never added twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llama_wrangler.units import human_bytes


@dataclass(frozen=True)
class Needs:
    """What one model takes when loaded, and how it may be unloaded."""

    ram_bytes: int = 0
    vram_bytes: int = 0
    mapped_bytes: int = 0  # the part of ram_bytes that is the mmap'd model file (page cache)
    # The part of ram_bytes kept for llama-server's prompt cache, which fills with use up to this limit;
    # ``cache_arg``: we pass the limit (``--cache-ram``) because the model's arguments set none.
    cache_bytes: int = 0
    cache_arg: bool = False
    pinned: bool = False  # "keep loaded": never unloaded for room nor by idle time
    idle_ttl_s: float | None = None  # unload after this long unused; None: the global default; 0: never


@dataclass(frozen=True)
class Room:
    """How much memory all of our resident models together may take."""

    ram_bytes: int
    vram_bytes: int = 0


@dataclass(frozen=True)
class Resident:
    model: str
    needs: Needs
    busy: bool  # requests are running on it or waiting for it
    last_used: float  # when its last request finished (the clock does not matter, only the order)


@dataclass(frozen=True)
class Plan:
    """What loading a model takes: unload ``victims`` first (busy ones drain), or ``refused`` (why not)."""

    victims: tuple[str, ...] = ()
    refused: str = ""
    over_budget: bool = False  # loaded alone although its estimate exceeds the room

    def busy_victims(self, residents: Sequence[Resident]) -> tuple[str, ...]:
        busy = {resident.model for resident in residents if resident.busy}
        return tuple(victim for victim in self.victims if victim in busy)


def auto_room(available_ram: int, total_ram: int, residents: Sequence[Needs], *, free_vram: int = 0,
              limit_ram: int = 0) -> Room:
    """The room for our models: available RAM plus what the residents' unloading would free, less a safety
    margin (5% of RAM, at least 512 MiB); never more than ``limit_ram`` when the user set a limit.

    A resident's prompt cache is not counted as freeable: what of it is filled the OS already counts as
    used, the rest is still to come — so the plan keeps every resident's whole cache limit (at the price
    of counting a filled cache twice: safe, never short)."""
    headroom = max(512 * 1024 * 1024, total_ram // 20)
    freeable = sum(max(0, needs.ram_bytes - needs.mapped_bytes - needs.cache_bytes) for needs in residents)
    ram = max(0, available_ram + freeable - headroom)
    if limit_ram > 0:
        ram = min(ram, limit_ram)
    vram = free_vram + sum(needs.vram_bytes for needs in residents) if free_vram else 0
    return Room(ram_bytes=ram, vram_bytes=vram)


def _fits(needs: Needs, kept: Sequence[Resident], room: Room, max_models: int) -> bool:
    if max_models > 0 and len(kept) + 1 > max_models:
        return False
    if sum(r.needs.ram_bytes for r in kept) + needs.ram_bytes > room.ram_bytes:
        return False
    vram = sum(r.needs.vram_bytes for r in kept) + needs.vram_bytes
    return room.vram_bytes == 0 or vram <= room.vram_bytes  # 0: no GPU memory reading, plan by RAM alone


def plan_load(model: str, needs: Needs, residents: Sequence[Resident], room: Room, max_models: int) -> Plan:
    """What it takes to load ``model`` next to ``residents`` (none of which is ``model``)."""
    kept = list(residents)
    if _fits(needs, kept, room, max_models):
        return Plan()
    order = sorted((r for r in kept if not r.needs.pinned), key=lambda r: (r.busy, r.last_used))
    victims: list[str] = []
    for resident in order:
        kept.remove(resident)
        victims.append(resident.model)
        if _fits(needs, kept, room, max_models):
            return Plan(victims=tuple(victims))
    if kept:  # only pinned models are left, and it still does not fit
        return Plan(refused=_refusal(model, needs, kept, room, max_models))
    return Plan(victims=tuple(victims), over_budget=True)


def _refusal(model: str, needs: Needs, pinned: Sequence[Resident], room: Room, max_models: int) -> str:
    names = ", ".join(r.model for r in pinned)
    if max_models > 0 and len(pinned) >= max_models:
        return (f"The model {model} cannot be loaded: {names} {'is' if len(pinned) == 1 else 'are'} kept loaded "
                f"and at most {max_models} model{'s' if max_models != 1 else ''} may be loaded at once. "
                "Unpin or unload one, or raise the limit in Settings.")
    kept = sum(r.needs.ram_bytes for r in pinned)
    return (f"The model {model} needs about {human_bytes(needs.ram_bytes)} of memory, but {names} "
            f"{'is' if len(pinned) == 1 else 'are'} kept loaded ({human_bytes(kept)}) and only "
            f"{human_bytes(max(0, room.ram_bytes - kept))} is left for models. Unpin or unload one first.")


def over_budget(model: str, needs: Needs, room: Room) -> str:
    """Said when ``model`` is loaded alone although its estimate is more than the room (the user's call)."""
    return (f"{model} needs about {human_bytes(needs.ram_bytes)} by the estimate, more memory than the "
            f"{human_bytes(room.ram_bytes)} there is room for (server.memory_limit_gb, or what the machine has "
            "free): loading it alone anyway. If it fails or the machine swaps, use a smaller quantization "
            "or context.")


def over_cap(residents: Sequence[Resident], max_models: int, *, keep: str = "") -> tuple[str, ...]:
    """Idle unpinned residents to unload so that no more than ``max_models`` stay loaded (the limit was
    lowered while more were loaded), least recently used first, ``keep`` (the window's model) last. Busy
    ones are left to finish; they go once idle."""
    excess = len(residents) - max_models
    if max_models <= 0 or excess <= 0:
        return ()
    idle = sorted((r for r in residents if not r.busy and not r.needs.pinned),
                  key=lambda r: (r.model == keep, r.last_used))
    return tuple(r.model for r in idle[:excess])
