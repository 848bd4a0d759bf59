"""What the scheduler remembers about each model between requests: what it takes, when it was last used,
who loaded it, its idle TTL, and whether it is on its way out (chosen to make room, or idle too long)."""

from __future__ import annotations

from collections import Counter

from llama_wrangler.server.endpoint.config import RETRY_AFTER_S
from llama_wrangler.server.endpoint.lease import PRIMARY_SLOT, Backend, ResidentView
from llama_wrangler.server.endpoint.residency import Needs


def model_states(catalog: list[str], loaded: list[str], coming: set[str], failed: set[str]) -> list[tuple[str, str]]:
    """Every library model (and any loaded one outside it, first) with its state: loaded, loading, failed
    or unloaded."""

    def state(model_id: str) -> str:
        if model_id in loaded:
            return "loaded"
        if model_id in coming:
            return "loading"
        return "failed" if model_id in failed else "unloaded"

    return [(model_id, state(model_id)) for model_id in [*(m for m in loaded if m not in catalog), *catalog]]


class ResidencyBook:
    def __init__(self) -> None:
        self.needs: dict[str, Needs] = {}
        self.last_used: dict[str, float] = {}
        self.by_user: set[str] = set()  # loaded from the window, tray or CLI: no default idle TTL
        self.keep_alive: dict[str, float | None] = {}  # an Ollama client's keep_alive (None: forever)
        self.evicting: set[str] = set()  # chosen to make room: no new leases
        self.unloading: set[str] = set()  # idle TTL ran out, or unloaded on request: no new leases
        # Models a retry_later client was told to come back for (503 + Retry-After), not served since.
        self.retry_owed: set[str] = set()

    def set_keep_alive(self, model: str, seconds: float | None) -> None:
        """As Ollama reads it, per request: negative keeps the model loaded, None (none sent) goes back to
        the model's own idle TTL."""
        if seconds is None:
            self.keep_alive.pop(model, None)
        else:
            self.keep_alive[model] = None if seconds < 0 else seconds

    def needs_of(self, model: str) -> Needs:
        return self.needs.get(model, Needs())

    def leaving(self, model: str) -> bool:
        return model in self.evicting or model in self.unloading

    def linger(self, model: str, default_s: float) -> float:
        """How long after its last use ``model`` is kept for another model's waiting requests: a model a
        retry_later client was sent away for stays until that client is back (``RETRY_AFTER_S``) — unloading
        it sooner would hand it to the other model's client and back, each load wasted before its client
        returns."""
        return max(default_s, RETRY_AFTER_S + 1.0) if model in self.retry_owed else default_s

    def ttl(self, model: str, default_s: float) -> float | None:
        """Seconds unused after which ``model`` is unloaded (None: never by idle time): pinned never; else an
        Ollama client's keep_alive; else the model's own setting (0: never); else, for a model a request
        loaded, ``default_s`` (0: never)."""
        needs = self.needs_of(model)
        if needs.pinned:
            return None
        if model in self.keep_alive:
            return self.keep_alive[model]
        if needs.idle_ttl_s is not None:
            return needs.idle_ttl_s or None
        if model in self.by_user:
            return None
        return default_s or None

    def forget_gone(self, held: set[str], waiting: set[str]) -> None:
        """Drop what only mattered while a model was loaded."""
        self.evicting &= held
        self.unloading &= held
        self.retry_owed &= held | waiting
        for model in list(self.keep_alive):
            if model not in held:
                del self.keep_alive[model]
        self.by_user = {m for m in self.by_user if m in held or m in waiting}

    def clear_user_loads(self) -> None:
        self.by_user.clear()
        self.keep_alive.clear()

    def views(self, slots: dict[str, Backend], in_flight: Counter[str], queued: Counter[str], now: float,
              default_ttl_s: float) -> list[ResidentView]:
        """One :class:`ResidentView` per slot (each holds a model), the primary first."""
        views = []
        for slot, backend in sorted(slots.items(), key=lambda item: item[0] != PRIMARY_SLOT):
            model = backend.model_id or backend.wanted
            needs = self.needs_of(model)
            running = in_flight[backend.url] if backend.url else 0
            idle = 0.0 if running or queued[model] else max(0.0, now - self.last_used.get(model, now))
            views.append(ResidentView(model=model, slot=slot, state=backend.state, pid=backend.pid,
                                      in_flight=running, queued=queued[model], idle_s=idle,
                                      ttl_s=self.ttl(model, default_ttl_s), pinned=needs.pinned,
                                      by_user=model in self.by_user, ram_bytes=needs.ram_bytes,
                                      vram_bytes=needs.vram_bytes, cache_bytes=needs.cache_bytes))
        return views
