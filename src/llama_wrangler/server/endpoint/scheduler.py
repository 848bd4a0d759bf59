"""Which request goes to the model server, and when the endpoint asks for another model.

Runs on the endpoint's event loop only (no locks): the supervisor's state arrives as :class:`Backend`
snapshots through :meth:`ModelScheduler.update`, requests ask with :meth:`acquire` and give back with
:meth:`release`.

The rules (what a last-wins gate got wrong):
- Requests are grouped by the model they name; one with no model takes whatever is served.
- One swap at a time: while a model is on its way, nothing else is asked for.
- The served model keeps taking its own requests while others wait, until it has been idle (nothing in
  flight, nothing queued) for ``idle_linger_s`` or the oldest waiting request has waited ``fairness_s``;
  then the model whose request waited longest is asked for, and the served model takes no new requests
  (they queue for its turn).
- A request never waits for a model nobody will load: when nothing is on its way, the oldest waiting
  model is asked for (or, with loading on request off, such requests are refused at once).
- A client that disconnects while queued leaves the queue (its task is cancelled).
- Before a server stops, :meth:`drain` waits for the requests still running on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from llama_wrangler.server.endpoint.config import RETRY_AFTER_S, EndpointConfig

log = logging.getLogger(__name__)

ANY_MODEL = ""  # a request that names no model: served by whichever model is loaded


@dataclass(frozen=True)
class Backend:
    """The supervisor as the endpoint sees it (taken on its own thread, handed over whole)."""

    state: str = "stopped"
    url: str = ""  # the ready server's base URL ('' unless ready)
    model_id: str = ""  # the model the current process serves or loads
    wanted: str = ""  # the model the supervisor works towards ('' when told to stop, or it gave up)
    error: str = ""  # a short reason when it crashed


@dataclass(frozen=True)
class Lease:
    """One request's claim on a backend; give it back with :meth:`ModelScheduler.release`."""

    url: str
    model_id: str


class Unavailable(Exception):  # noqa: N818  (a condition answered with an HTTP error, not a bug)
    """No backend will serve this request; ``str()`` is the reason, written for the client."""

    def __init__(self, message: str, *, status: int = 503, code: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def headers(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` (the CORS headers) plus ``Retry-After`` when the client is told to come back."""
        return base if self.retry_after is None else {**base, "Retry-After": str(self.retry_after)}


@dataclass(eq=False)
class _Waiter:
    model: str
    since: float
    future: asyncio.Future[Lease] | None = None  # None: a demand only (a 503 + Retry-After was sent)
    done: bool = field(default=False)


class ModelScheduler:
    def __init__(self, config: EndpointConfig, on_load: Callable[[str], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.on_load = on_load  # ask for a model (called on the loop; must only post to the GUI thread)
        self.loads_requested = 0
        self._loop = loop
        self._backend = Backend()
        self._requested = ""  # asked for, not yet seen as the supervisor's wanted model
        self._waiters: list[_Waiter] = []
        self._in_flight: Counter[str] = Counter()
        self._draining: dict[str, list[Callable[[], None]]] = {}  # url -> done callbacks
        self._failed: dict[str, str] = {}  # model -> why it could not be served (shown in /v1/models)
        self._timer: asyncio.TimerHandle | None = None
        self._idle_since = 0.0  # when the last request on the served backend finished
        self._closed = ""

    # ----------------------------------------------------------------- fed by the supervisor's side
    def update(self, backend: Backend) -> None:
        old, self._backend = self._backend, backend
        if backend.url and backend.url != old.url:
            self._draining.pop(backend.url, None)
            self._failed.pop(backend.model_id, None)
        if self._requested and self._requested in (backend.wanted, backend.model_id if backend.url else ""):
            self._requested = ""
        if old.wanted and not backend.wanted and not self._requested:
            self._supervisor_gave_up(old.wanted, backend)
        self._step()

    def set_config(self, config: EndpointConfig) -> None:
        self.config = config
        self._step()

    def refuse(self, model: str, reason: str) -> None:
        """``model`` cannot be served (not resolvable): its waiters get ``reason``."""
        if self._requested == model:
            self._requested = ""
        self._failed[model] = reason
        self._fail(lambda waiter: waiter.model == model, Unavailable(reason, status=404, code="model_not_found"))
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
        return self._backend.model_id if self._backend.url else ""

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
        served, coming = self.served_model, self._target()
        ids = catalog if not served or served in catalog else [served, *catalog]

        def state(model_id: str) -> str:
            if model_id == served:
                return "loaded"
            if model_id == coming:
                return "loading"
            return "failed" if model_id in self._failed else "unloaded"

        return [(model_id, state(model_id)) for model_id in ids]

    async def acquire(self, model: str | None) -> Lease:
        """A lease on a backend serving ``model`` (any when None), waiting as the rules say."""
        if self._closed:
            raise Unavailable(self._closed)
        wanted = model or ANY_MODEL
        lease = self._lease_now(wanted)
        if lease is not None:
            return lease
        self._refuse_early(wanted)
        if self.config.retry_later:
            if wanted != ANY_MODEL:  # remembered, so the model still loads for the retry
                self._waiters.append(_Waiter(wanted, self._loop.time()))
                self._step()
            coming = self._target() or wanted
            raise Unavailable(f"The model {coming} is loading. Retry in a few seconds.", retry_after=RETRY_AFTER_S)
        waiter = _Waiter(wanted, self._loop.time(), self._loop.create_future())
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
        if self._in_flight[lease.url] <= 0:
            del self._in_flight[lease.url]
            self._idle_since = self._loop.time()
            self._drained_check(lease.url)
        self._step()

    # ----------------------------------------------------------------- the rules
    def _target(self) -> str:
        """The model on its way or served: what we asked for, else what the supervisor works towards."""
        return self._requested or self._backend.wanted

    def _ready_url(self) -> str:
        url = self._backend.url
        return url if url and url not in self._draining else ""

    def _admitting(self) -> str:
        """The model new requests may be leased to now ('' while none)."""
        served = self.served_model
        return served if self._ready_url() and self._target() in ("", served) else ""

    def _lease_now(self, model: str) -> Lease | None:
        admitting = self._admitting()
        if not admitting or model not in (ANY_MODEL, admitting):
            return None
        if self._others_waited_out(admitting):
            return None  # its turn is over: queue behind the swap
        return self._lease(admitting)

    def _lease(self, model: str) -> Lease:
        url = self._backend.url
        self._in_flight[url] += 1
        return Lease(url, model)

    def _refuse_early(self, model: str) -> None:
        """Requests that no model will come for are answered now, not after a wait."""
        coming = self._target()
        if model == ANY_MODEL and not coming and not self.served_model:
            raise Unavailable(self._down_reason())
        if model != ANY_MODEL and model not in (coming, self.served_model) and not self.config.load_on_request:
            raise Unavailable(f"The model {model} is not loaded, and loading models on request is off. "
                              "Start it in Llama Wrangler first.", code="model_not_loaded")

    def _down_reason(self) -> str:
        backend = self._backend
        if backend.state == "crashed" and backend.error:
            reason = f"The model server crashed: {backend.error}"
        else:
            reason = "The model server is stopped."
        if self.config.load_on_request:
            return f"{reason} A request naming a model loads it."
        return f"{reason} Start a model in Llama Wrangler first."

    def _others_waited_out(self, served: str) -> bool:
        oldest = self._oldest_other(served)
        return oldest is not None and self._loop.time() - oldest.since >= self.config.fairness_s

    def _oldest_other(self, served: str) -> _Waiter | None:
        others = [w for w in self._waiters if w.model not in (ANY_MODEL, served)]
        return min(others, key=lambda w: w.since) if others else None

    def _step(self) -> None:
        """Apply the rules after anything changed: lease, ask for a model, or fail what cannot be served."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiters = [w for w in self._waiters if not w.done]
        if self._closed:
            return
        admitting = self._admitting()
        if admitting:
            self._admit(admitting)
            oldest = self._oldest_other(admitting)
            if oldest is not None:
                due = oldest.since + self.config.fairness_s
                if not self._in_flight[self._backend.url] and not self._queued(admitting):
                    due = min(due, max(self._idle_since, oldest.since) + self.config.idle_linger_s)
                if self._loop.time() >= due:
                    self._ask_for(oldest.model)
                else:
                    self._timer = self._loop.call_at(due, self._step)
        elif not self._target():
            self._nothing_coming()

    def _admit(self, model: str) -> None:
        if self._others_waited_out(model):
            return
        for waiter in self._waiters:
            if waiter.model in (ANY_MODEL, model):
                if waiter.future is None:
                    waiter.done = True  # a demand only: its client was told to retry
                elif not waiter.future.done():
                    waiter.future.set_result(self._lease(model))
                    waiter.done = True
        self._waiters = [w for w in self._waiters if not w.done]

    def _queued(self, model: str) -> bool:
        return any(w.model == model and w.future is not None for w in self._waiters)

    def _nothing_coming(self) -> None:
        named = [w for w in self._waiters if w.model != ANY_MODEL]
        if named and self.config.load_on_request:
            self._ask_for(min(named, key=lambda w: w.since).model)
            return
        self._fail(lambda _waiter: True, Unavailable(self._down_reason()))

    def _ask_for(self, model: str) -> None:
        if model == self._backend.wanted:
            return  # on its way already
        self._requested = model
        self.loads_requested += 1
        log.info("requests wait for %s: asking for it", model)
        self.on_load(model)

    def _supervisor_gave_up(self, model: str, backend: Backend) -> None:
        """The supervisor stopped working towards ``model``: it failed to start, or the user stopped it."""
        if backend.state == "crashed":
            reason = f"The model {model} could not be started: {backend.error or 'no reason given'}"
            self._failed[model] = reason
            self._fail(lambda waiter: waiter.model in (model, ANY_MODEL), Unavailable(reason))
        else:  # stopped on purpose: what waited for it is not to be loaded behind the user's back
            self._fail(lambda _waiter: True, Unavailable(self._down_reason()))

    def _fail(self, which: Callable[[_Waiter], bool], error: Unavailable) -> None:
        for waiter in self._waiters:
            if which(waiter):
                waiter.done = True
                if waiter.future is not None and not waiter.future.done():
                    waiter.future.set_exception(error)
        self._waiters = [w for w in self._waiters if not w.done]

    def _abandon(self, waiter: _Waiter) -> None:
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
