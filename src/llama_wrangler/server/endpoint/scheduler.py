"""Which request goes to which model server, which model loads next, and which ones are unloaded.

Runs on the endpoint's event loop only (no locks): each model server ("slot") arrives as a :class:`Backend`
snapshot through :meth:`ModelScheduler.update`, requests ask with :meth:`acquire` and give back with
:meth:`release`; what each library model needs in memory arrives with :meth:`set_needs`.

The rules, in short (docs/RESIDENCY.md has them whole): requests are grouped by the model they name and
leased to the server that has it loaded (several may be); a request naming none takes the focused model.
One load at a time, the oldest waiting request's model first: beside the loaded ones when it fits (memory
and ``max_models``, see :mod:`.residency`), else after unloading the least-recently-used idle unpinned
ones — a busy one only once the oldest request has waited ``fairness_s`` (it drains first). A model chosen
to go takes no new requests. Idle models are unloaded after their TTL (:class:`.ResidencyBook`). A request
for a model nobody will load is refused at once; a client that disconnects while queued leaves the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from llama_wrangler.server.endpoint.config import RETRY_AFTER_S, EndpointConfig
from llama_wrangler.server.endpoint.lease import (
    ANY_MODEL,
    PRIMARY_SLOT,
    Backend,
    Lease,
    ResidentView,
    Unavailable,
    Waiter,
    down_reason,
)
from llama_wrangler.server.endpoint.residency import Needs, Resident, Room, auto_room, over_budget, over_cap, plan_load
from llama_wrangler.server.endpoint.residency_book import ResidencyBook, model_states
from llama_wrangler.server.machine_memory import MemoryProbe, system_memory

log = logging.getLogger(__name__)

_HOLDING = ("starting", "loading", "ready", "stopping")  # states in which a server holds (or takes) memory

class ModelScheduler:
    def __init__(self, config: EndpointConfig, on_load: Callable[[str, tuple[str, ...]], None],
                 loop: asyncio.AbstractEventLoop, *, on_unload: Callable[[str], None] = lambda _model: None,
                 memory: MemoryProbe = system_memory) -> None:
        self.config = config
        self.on_load = on_load  # (model, victims to unload first); called on the loop: must only post
        self.on_unload = on_unload  # (model): unload it now (idle TTL, or asked)
        self.loads_requested = 0
        self._loop = loop
        self._memory = memory
        self._slots: dict[str, Backend] = {}
        self._book = ResidencyBook()
        self._requested: dict[str, tuple[str, ...]] = {}  # asked for, not yet seen in a slot -> its victims
        self._waiters: list[Waiter] = []
        self._in_flight: Counter[str] = Counter()  # url -> requests running there
        self._draining: dict[str, list[Callable[[], None]]] = {}  # url -> done callbacks
        self._failed: dict[str, str] = {}  # model -> why it could not be served (shown in /v1/models)
        self._focus = ""  # the model the user started last, while it is loaded or on its way
        self._timer: asyncio.TimerHandle | None = None
        self._closed = ""

    # ----------------------------------------------------------------- fed by the supervisors' side
    def update(self, backend: Backend, slot: str = PRIMARY_SLOT) -> None:
        old = self._slots.get(slot, Backend())
        self._slots[slot] = backend
        if backend.url and backend.url != old.url:
            self._draining.pop(backend.url, None)
            self._failed.pop(backend.model_id, None)
            self._book.last_used[backend.model_id] = self._loop.time()  # an idle TTL counts from the load
        for model in list(self._requested):
            if self._url(model) or any(b.wanted == model for b in self._slots.values()):
                del self._requested[model]
        if old.wanted and not backend.wanted and old.wanted not in self._requested:
            self._gave_up(old.wanted, backend)
        self._forget_gone()
        self._step()

    def remove_slot(self, slot: str) -> None:
        if self._slots.pop(slot, None) is not None:
            self._forget_gone()
            self._step()

    def set_config(self, config: EndpointConfig) -> None:
        self.config = config
        self._step()

    def set_needs(self, needs: dict[str, Needs]) -> None:
        """What each library model takes in memory, whether it is pinned, and its own idle TTL."""
        self._book.needs = dict(needs)
        self._step()

    def refuse(self, model: str, reason: str) -> None:
        """``model`` cannot be served (not resolvable): its waiters get ``reason``."""
        self._book.evicting -= set(self._requested.pop(model, ()))
        self._failed[model] = reason
        self._fail(lambda waiter: waiter.model == model, Unavailable(reason, status=404, code="model_not_found"))
        self._step()

    def want(self, model: str) -> None:
        """Load ``model`` (the window, tray, CLI or a load route asked), by the same rules as a request."""
        if self._closed:
            return
        self._book.by_user.add(model)
        self._focus = model  # the user's current model: what requests naming none get from now on
        self._failed.pop(model, None)
        self._book.last_used[model] = self._loop.time()
        if not self._url(model):
            self._waiters.append(Waiter(model, self._loop.time()))
        self._step()

    def unload(self, model: str) -> bool:
        """Unload ``model`` now (running requests drain first); False when it is neither loaded nor on its way.
        Requests waiting for it are told so: loading it again for them would undo what the user asked."""
        if model not in self._held() and model not in self._coming():
            return False
        self._book.evicting -= set(self._requested.pop(model, ()))  # asked for, not placed yet: not any more
        self._fail(lambda waiter: waiter.model == model, Unavailable(f"The model {model} was unloaded."))
        self._unload(model)  # also when not placed yet: the fleet's stop follows its queued load order
        self._step()
        return True

    def stopped_by_user(self) -> None:
        """The user stopped serving: nothing that waits is to be loaded behind their back."""
        self._requested.clear()
        self._focus = ""
        self._book.clear_user_loads()
        self._fail(lambda _waiter: True, Unavailable(self._down_reason()))

    def keep_alive(self, model: str, seconds: float | None) -> None:
        """An Ollama request's ``keep_alive``: the idle TTL (negative: forever; 0: unload now; None: its own)."""
        self._book.set_keep_alive(model, seconds)
        self._step()

    def drain(self, url: str, done: Callable[[], None]) -> None:
        """Take no new requests for ``url``; call ``done()`` once none runs there any more."""
        self._draining.setdefault(url, []).append(done)
        self._drained_check(url)
        self._step()

    def close(self, reason: str) -> None:
        self._closed = reason
        self._fail(lambda _waiter: True, Unavailable(reason))
        for url in list(self._draining):
            for done in self._draining.pop(url):
                done()

    # ----------------------------------------------------------------- used by request handlers
    @property
    def served_model(self) -> str:
        """The model a request naming none gets: the window's, else the most recently used ('' while the
        user's model is on its way: such requests wait for it)."""
        if self._focus:
            return self._focus if self._admits(self._focus) else ""
        for backend in self._slots.values():
            if backend.focus and backend.url and self._admits(backend.model_id):
                return backend.model_id
        ready = [b.model_id for b in self._slots.values() if b.url and self._admits(b.model_id)]
        return max(ready, key=lambda model: self._book.last_used.get(model, 0.0)) if ready else ""

    @property
    def queued(self) -> int:
        """Requests waiting for a lease now."""
        return sum(1 for w in self._waiters if w.future is not None and not w.done)

    @property
    def in_flight(self) -> int:
        """Requests running on a backend now."""
        return sum(self._in_flight.values())

    def model_states(self, catalog: list[str]) -> list[tuple[str, str]]:
        """Every library model with its state: loaded, loading, failed or unloaded."""
        return model_states(catalog, [b.model_id for b in self._slots.values() if b.url], self._coming(),
                            set(self._failed))

    def residents(self) -> list[ResidentView]:
        """Every model a server holds or loads, the primary slot's first."""
        held = {n: b for n, b in self._slots.items() if b.state in _HOLDING and (b.model_id or b.wanted)}
        queued = Counter(w.model for w in self._waiters if w.future is not None)
        views = self._book.views(held, self._in_flight, queued, self._loop.time(), self.config.idle_ttl_s)
        return [replace(view, default=view.model == self.served_model) for view in views]

    async def acquire(self, model: str | None, *, wait: bool = False) -> Lease:
        """A lease on a backend serving ``model`` (any when None), waiting as the rules say (``wait``: even
        when clients are told to retry later — a user's load answers once its model is ready)."""
        if self._closed:
            raise Unavailable(self._closed)
        wanted = model or ANY_MODEL
        if wanted != ANY_MODEL:
            self._book.last_used[wanted] = self._loop.time()
        lease = self._lease_now(wanted)
        if lease is not None:
            return lease
        self._refuse_early(wanted)
        if self.config.retry_later and not wait:
            if wanted != ANY_MODEL:  # remembered, so the model still loads for the retry
                self._waiters.append(Waiter(wanted, self._loop.time()))
                self._book.retry_owed.add(wanted)
                self._step()
            coming = wanted if wanted != ANY_MODEL else next(iter(self._coming()), "")
            raise Unavailable(f"The model {coming} is loading. Retry in a few seconds.", retry_after=RETRY_AFTER_S)
        waiter = Waiter(wanted, self._loop.time(), self._loop.create_future())
        self._waiters.append(waiter)
        self._step()
        assert waiter.future is not None
        try:
            done, _pending = await asyncio.wait({waiter.future}, timeout=self.config.wait_s)
        except asyncio.CancelledError:
            self._abandon(waiter)  # the client went away: it leaves the queue
            raise
        if not done:
            self._abandon(waiter)
            raise Unavailable(f"The model did not become ready within {self.config.wait_s:g} s.")
        return waiter.future.result()  # a lease, or the Unavailable it was failed with

    def release(self, lease: Lease) -> None:
        self._in_flight[lease.url] -= 1
        self._book.last_used[lease.model_id] = self._loop.time()
        if self._in_flight[lease.url] <= 0:
            del self._in_flight[lease.url]
            self._drained_check(lease.url)
        self._step()

    # ----------------------------------------------------------------- what is where
    def _url(self, model: str) -> str:
        """The base URL of the ready server that has ``model`` ('' when none)."""
        for backend in self._slots.values():
            if backend.url and backend.model_id == model:
                return backend.url
        return ""

    def _admits(self, model: str) -> bool:
        url = self._url(model)
        return bool(url) and url not in self._draining and not self._book.leaving(model)

    def _held(self) -> set[str]:
        """Models a server holds or loads (memory is taken, or about to be)."""
        models = {b.model_id or b.wanted for b in self._slots.values() if b.state in _HOLDING}
        return models - {""}

    def _coming(self) -> set[str]:
        """Models on their way: asked for, or wanted by a server that is not serving them yet."""
        wanted = {b.wanted for b in self._slots.values() if b.wanted and not self._url(b.wanted)}
        return set(self._requested) | wanted

    def _busy(self, model: str) -> bool:
        url = self._url(model)
        return bool(url and self._in_flight[url]) or any(
            w.model == model and w.future is not None for w in self._waiters)

    # ----------------------------------------------------------------- the rules
    def _lease_now(self, model: str) -> Lease | None:
        target = self.served_model if model == ANY_MODEL else model
        return self._lease(target) if target and self._admits(target) else None

    def _lease(self, model: str) -> Lease:
        url = self._url(model)
        self._in_flight[url] += 1
        self._book.retry_owed.discard(model)
        return Lease(url, model)

    def _refuse_early(self, model: str) -> None:
        """Requests that no model will come for are answered now, not after a wait."""
        coming = self._coming()
        if model == ANY_MODEL and not coming and not self._held():
            raise Unavailable(self._down_reason())
        if (model != ANY_MODEL and model not in coming and model not in self._held()
                and not self.config.load_on_request and model not in self._book.by_user):  # the user's: it loads
            raise Unavailable(f"The model {model} is not loaded, and loading models on request is off. "
                              "Start it in Llama Wrangler first.", code="model_not_loaded")

    def _down_reason(self) -> str:
        return down_reason(list(self._slots.values()), load_on_request=self.config.load_on_request)

    def _step(self) -> None:
        """Apply the rules after anything changed: lease, load, unload, or fail what cannot be served."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiters = [w for w in self._waiters if not w.done]
        if self._closed:
            return
        now = self._loop.time()
        self._admit()
        dues = [self._load_next(now), self._expire_idle(now)]
        for model in over_cap(self._residents(self._held() - self._book.unloading - self._book.evicting),
                              self.config.max_models, keep=self.served_model):
            log.info("at most %d models may be loaded: unloading %s", self.config.max_models, model)
            self._unload(model)
        if not self._coming() and not any(b.url for b in self._slots.values()):
            self._fail(lambda w: w.model == ANY_MODEL, Unavailable(self._down_reason()))
        due = min((d for d in dues if d is not None), default=None)
        if due is not None:
            self._timer = self._loop.call_at(due, self._step)

    def _admit(self) -> None:
        for waiter in self._waiters:
            model = self.served_model if waiter.model == ANY_MODEL else waiter.model
            if not model or not self._admits(model):
                continue
            if waiter.future is None:
                waiter.done = True  # a load asked for: it is loaded
            elif not waiter.future.done():
                waiter.future.set_result(self._lease(model))
                waiter.done = True
        self._waiters = [w for w in self._waiters if not w.done]

    def _load_next(self, now: float) -> float | None:
        """Ask for the oldest waiting model if nothing else is on its way; when the models it would
        replace are still busy, the time to look again."""
        if self._coming():
            return None
        held = self._held()
        pending = [w for w in self._waiters if w.model != ANY_MODEL and w.model not in held]
        while pending:
            oldest = min(pending, key=lambda w: w.since)
            model = oldest.model
            if not self.config.load_on_request and oldest.future is not None and model not in self._book.by_user:
                self._fail(lambda w, m=model: w.model == m,  # type: ignore[misc]
                           Unavailable(f"The model {model} is no longer loaded, and loading models on request "
                                       "is off.", code="model_not_loaded"))
            else:
                residents = self._residents(held - self._book.unloading)
                plan = plan_load(model, self._book.needs_of(model), residents, self._room(residents),
                                 self.config.max_models)
                if not plan.refused:
                    due = self._evict_then_load(model, plan.victims, oldest.since, now)
                    if plan.over_budget and model in self._requested:  # said once: when it is asked for
                        log.warning(over_budget(model, self._book.needs_of(model), self._room(residents)))
                    return due
                self._failed[model] = plan.refused
                self._fail(lambda w, m=model: w.model == m,  # type: ignore[misc]
                           Unavailable(plan.refused, code="insufficient_memory"))
            pending = [w for w in pending if w.model != model]
        return None

    def _residents(self, models: set[str]) -> list[Resident]:
        return [Resident(m, self._book.needs_of(m), self._busy(m), self._book.last_used.get(m, 0.0)) for m in models]

    def _evict_then_load(self, model: str, victims: tuple[str, ...], since: float, now: float) -> float | None:
        linger = {v: self._book.linger(v, self.config.idle_linger_s) for v in victims}
        unready = [v for v in victims if self._busy(v) or now - self._book.last_used.get(v, 0.0) < linger[v]]
        if unready and now - since < self.config.fairness_s:
            idle_at = [self._book.last_used.get(v, 0.0) + linger[v] for v in unready if not self._busy(v)]
            return min([since + self.config.fairness_s, *idle_at])
        self._requested[model] = victims
        self._book.evicting |= set(victims)
        self.loads_requested += 1
        if victims:
            log.info("requests wait for %s: unloading %s to make room", model, ", ".join(victims))
        else:
            log.info("requests wait for %s: loading it", model)
        self.on_load(model, victims)
        return None

    def _room(self, residents: list[Resident]) -> Room:
        available, total, free_vram = self._memory()
        return auto_room(available, total, [r.needs for r in residents], free_vram=free_vram,
                         limit_ram=self.config.memory_limit_bytes)

    def _expire_idle(self, now: float) -> float | None:
        """Unload models whose idle TTL ran out; the time the next one runs out."""
        due: float | None = None
        for backend in list(self._slots.values()):
            model = backend.model_id
            if not backend.url or not self._admits(model) or self._busy(model):
                continue
            ttl = self._book.ttl(model, self.config.idle_ttl_s)
            if ttl is None:
                continue
            at = self._book.last_used.get(model, now) + ttl
            if now >= at:
                log.info("%s was idle for %g s: unloading it", model, ttl)
                self._unload(model)
            else:
                due = at if due is None else min(due, at)
        return due

    def _unload(self, model: str) -> None:
        self._book.unloading.add(model)
        self.on_unload(model)

    def _gave_up(self, model: str, backend: Backend) -> None:
        """A server stopped working towards ``model``: it crashed for good, or it was unloaded."""
        if backend.state == "crashed":
            reason = f"The model {model} could not be started: {backend.error or 'no reason given'}"
            self._failed[model] = reason
            self._fail(lambda waiter: waiter.model == model, Unavailable(reason))

    def _forget_gone(self) -> None:
        held, waiting = self._held() | self._coming(), {w.model for w in self._waiters}
        if self._focus not in held | waiting:
            self._focus = ""  # unloaded: requests naming no model take another loaded one
        self._book.forget_gone(held, waiting)

    def _fail(self, which: Callable[[Waiter], bool], error: Unavailable) -> None:
        for waiter in self._waiters:
            if which(waiter):
                waiter.done = True
                if waiter.future is not None and not waiter.future.done():
                    waiter.future.set_exception(error)
        self._waiters = [w for w in self._waiters if not w.done]

    def _abandon(self, waiter: Waiter) -> None:
        waiter.done = True
        future = waiter.future
        if future is not None:
            if not future.done():
                future.cancel()
            elif not future.cancelled() and future.exception() is None:
                self.release(future.result())  # leased just as its client went away
                return
        self._step()

    def _drained_check(self, url: str) -> None:
        if url in self._draining and self._in_flight[url] <= 0:
            for done in self._draining[url]:
                done()
            self._draining[url] = []
