"""Several models loaded at once: the room planner on its own, then the scheduler's residency rules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.lease import Backend, Lease, Unavailable
from llama_wrangler.server.endpoint.residency import Needs, Resident, Room, auto_room, plan_load
from llama_wrangler.server.endpoint.scheduler import ModelScheduler

GB = 1_000_000_000


def resident(model: str, gb: float, *, busy: bool = False, used: float = 0.0, pinned: bool = False) -> Resident:
    return Resident(model, Needs(ram_bytes=int(gb * GB), pinned=pinned), busy, used)


# ----------------------------------------------------------------------------- the planner
def test_a_model_that_fits_unloads_nothing() -> None:
    plan = plan_load("c", Needs(ram_bytes=GB), [resident("a", 1), resident("b", 1)], Room(3 * GB), max_models=4)
    assert plan.victims == () and not plan.refused


def test_the_least_recently_used_idle_model_goes_first() -> None:
    residents = [resident("a", 1, used=5.0), resident("b", 1, used=1.0), resident("old-busy", 1, busy=True)]
    plan = plan_load("c", Needs(ram_bytes=GB), residents, Room(3 * GB), max_models=4)
    assert plan.victims == ("b",)  # idle before busy, least recently used first
    plan = plan_load("c", Needs(ram_bytes=3 * GB), residents, Room(3 * GB), max_models=4)
    assert plan.victims == ("b", "a", "old-busy") and plan.busy_victims(residents) == ("old-busy",)


def test_the_count_cap_evicts_too() -> None:
    plan = plan_load("c", Needs(), [resident("a", 0, used=2.0), resident("b", 0, used=1.0)], Room(GB), max_models=2)
    assert plan.victims == ("b",)


def test_pinned_models_stay_and_say_why_a_model_cannot_load() -> None:
    residents = [resident("keep", 2, pinned=True), resident("a", 1)]
    plan = plan_load("big", Needs(ram_bytes=GB), residents, Room(3 * GB), max_models=4)
    assert plan.victims == ("a",)
    plan = plan_load("huge", Needs(ram_bytes=5 * GB), residents, Room(3 * GB), max_models=4)
    assert plan.refused and "keep" in plan.refused and "kept loaded" in plan.refused
    plan = plan_load("x", Needs(), [resident("keep", 0, pinned=True)], Room(GB), max_models=1)
    assert "at most 1 model" in plan.refused


def test_one_model_bigger_than_the_room_still_loads_alone() -> None:
    plan = plan_load("huge", Needs(ram_bytes=9 * GB), [resident("a", 1)], Room(3 * GB), max_models=4)
    assert plan.victims == ("a",) and plan.over_budget and not plan.refused


def test_the_room_counts_mapped_weights_once_and_obeys_a_limit() -> None:
    loaded = [Needs(ram_bytes=4 * GB, mapped_bytes=3 * GB)]  # 1 GB of KV and buffers, 3 GB of page cache
    room = auto_room(10 * GB, 32 * GB, loaded)
    assert room.ram_bytes == 10 * GB + GB - 32 * GB // 20  # available + what unloading frees - headroom
    assert auto_room(10 * GB, 32 * GB, loaded, limit_ram=2 * GB).ram_bytes == 2 * GB
    assert auto_room(10 * GB, 32 * GB, loaded, free_vram=6 * GB).vram_bytes == 6 * GB


def test_a_residents_prompt_cache_limit_is_never_counted_as_freeable() -> None:
    # 1 GB of KV and buffers and 2 GB kept for its prompt cache: the OS counts what the cache holds as used
    # already, and the rest is still to come, so unloading it is taken to free the 1 GB only.
    loaded = [Needs(ram_bytes=6 * GB, mapped_bytes=3 * GB, cache_bytes=2 * GB)]
    assert auto_room(10 * GB, 32 * GB, loaded).ram_bytes == 10 * GB + GB - 32 * GB // 20


# ----------------------------------------------------------------------------- the scheduler
URLS = {"alpha": "http://127.0.0.1:9001", "beta": "http://127.0.0.1:9002", "gamma": "http://127.0.0.1:9003"}


def ready(model: str) -> Backend:
    return Backend(state="ready", url=URLS[model], model_id=model, wanted=model)


class Harness:
    def __init__(self, config: EndpointConfig) -> None:
        self.loads: list[tuple[str, tuple[str, ...]]] = []
        self.unloaded: list[str] = []
        self.scheduler = ModelScheduler(config, lambda model, victims: self.loads.append((model, victims)),
                                        asyncio.get_running_loop(), on_unload=self.unloaded.append,
                                        memory=lambda: (100 * GB, 200 * GB, 0))
        self.slot_of: dict[str, str] = {}

    def request(self, model: str | None) -> asyncio.Task[Lease]:
        return asyncio.get_running_loop().create_task(self.scheduler.acquire(model))

    def load(self, model: str, slot: str) -> None:
        """What the fleet does when asked: the slot's server comes up with the model."""
        self.slot_of[model] = slot
        self.scheduler.update(Backend(state="loading", model_id=model, wanted=model), slot)
        self.scheduler.update(ready(model), slot)

    def stop(self, model: str) -> None:
        self.scheduler.update(Backend(state="stopped"), self.slot_of.pop(model))


def run(test: Callable[[Harness], Awaitable[None]], **config: Any) -> None:
    async def main() -> None:
        base = EndpointConfig(fairness_s=60.0, wait_s=30.0, idle_linger_s=0.0, max_models=4,
                              memory_limit_bytes=3 * GB, idle_ttl_s=0.0)
        await test(Harness(replace(base, **config)))

    asyncio.run(main())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def needs(**gb: float) -> dict[str, Needs]:
    return {model: Needs(ram_bytes=int(size * GB), mapped_bytes=int(size * GB)) for model, size in gb.items()}


def test_two_models_that_fit_are_loaded_side_by_side() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=1, beta=1, gamma=2))
        h.load("alpha", "primary")
        running = await h.scheduler.acquire("alpha")  # alpha is busy: beta must not wait for it
        beta = h.request("beta")
        await settle()
        assert h.loads == [("beta", ())]  # at once, nothing unloaded
        h.load("beta", "slot1")
        assert (await beta).url == URLS["beta"]
        assert (await h.scheduler.acquire("alpha")).url == URLS["alpha"]  # both answer, no reload
        assert [view.model for view in h.scheduler.residents()] == ["alpha", "beta"]
        h.scheduler.release(running)

    run(scenario)


def test_a_third_model_that_does_not_fit_unloads_the_least_recently_used() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=1, beta=1, gamma=2))
        h.load("alpha", "primary")
        h.load("beta", "slot1")
        h.scheduler.release(await h.scheduler.acquire("beta"))
        await asyncio.sleep(0.01)
        h.scheduler.release(await h.scheduler.acquire("alpha"))  # alpha used last: beta is the LRU one
        gamma = h.request("gamma")
        await settle()
        assert h.loads == [("gamma", ("beta",))]
        late_beta = h.request("beta")
        await settle()
        assert not late_beta.done()  # chosen to go: it takes no new requests
        h.stop("beta")
        h.load("gamma", "slot1")
        assert (await gamma).model_id == "gamma"
        late_beta.cancel()

    run(scenario)


def test_a_pinned_model_survives_pressure_and_a_busy_one_yields_after_the_fairness_window() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs({**needs(beta=1, gamma=2), "alpha": Needs(ram_bytes=GB, pinned=True)})
        h.load("alpha", "primary")
        h.load("beta", "slot1")
        running = await h.scheduler.acquire("beta")  # beta busy; alpha pinned and idle
        gamma = h.request("gamma")
        await settle()
        assert h.loads == []  # only beta can make room, and it is busy: wait for it
        await asyncio.sleep(0.15)
        assert h.loads == [("gamma", ("beta",))]  # the fairness window ran out; alpha stays
        h.scheduler.release(running)
        gamma.cancel()

    run(scenario, fairness_s=0.1)


def test_a_model_that_cannot_fit_beside_pinned_ones_is_refused_plainly() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs({"alpha": Needs(ram_bytes=2 * GB, pinned=True), **needs(gamma=2)})
        h.load("alpha", "primary")
        try:
            await h.scheduler.acquire("gamma")
        except Unavailable as exc:
            assert exc.code == "insufficient_memory" and "alpha" in str(exc)
        else:
            raise AssertionError("gamma was leased")
        assert h.loads == []

    run(scenario)


def test_idle_models_loaded_by_requests_expire_and_the_users_stay() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=1, beta=1))
        h.scheduler.want("alpha")  # the user loaded it: no default TTL
        await settle()
        h.load("alpha", "primary")
        h.scheduler.release(await _loaded(h, "beta"))
        await asyncio.sleep(0.3)
        assert h.unloaded == ["beta"]
        ttl = {view.model: view.ttl_s for view in h.scheduler.residents()}
        assert ttl["alpha"] is None

    run(scenario, idle_ttl_s=0.2)


async def _loaded(h: Harness, model: str) -> Lease:
    task = h.request(model)
    await settle()
    h.load(model, f"slot-{model}")
    return await task


def test_keep_alive_sets_the_ttl_and_zero_unloads_after_the_request() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs({**needs(alpha=1), "beta": Needs(ram_bytes=GB, idle_ttl_s=0.1)})
        h.load("alpha", "primary")
        lease = await h.scheduler.acquire("alpha")
        h.scheduler.keep_alive("alpha", 0)  # as the Ollama routes pass it: once the request holds its lease
        await settle()
        assert h.unloaded == []  # never while a request runs
        h.scheduler.release(lease)
        await settle()
        assert h.unloaded == ["alpha"]
        h.scheduler.release(await _loaded(h, "beta"))  # the model's own idle TTL
        await asyncio.sleep(0.25)
        assert h.unloaded == ["alpha", "beta"]

    run(scenario)


def test_unload_on_request_and_the_count_cap() -> None:
    async def scenario(h: Harness) -> None:
        h.load("alpha", "primary")
        assert h.scheduler.unload("alpha") and h.unloaded == ["alpha"]
        assert not h.scheduler.unload("gamma")  # not loaded
        h.stop("alpha")
        h.load("alpha", "primary")
        h.load("beta", "slot1")
        gamma = h.request("gamma")
        await settle()
        assert h.loads == [("gamma", ("alpha",))]  # two at most: the older one goes
        gamma.cancel()

    run(scenario, max_models=2)
