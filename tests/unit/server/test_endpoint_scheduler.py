"""The endpoint's scheduler on its own: who gets a lease, when a model is asked for, who is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.scheduler import Backend, Lease, ModelScheduler, Unavailable

URL = "http://127.0.0.1:9001"


def ready(model: str, url: str = URL) -> Backend:
    return Backend(state="ready", url=url, model_id=model, wanted=model)


def loading(model: str) -> Backend:
    return Backend(state="loading", model_id=model, wanted=model)


class Harness:
    def __init__(self, config: EndpointConfig) -> None:
        self.asked: list[str] = []
        self.victims: list[tuple[str, ...]] = []
        self.unloaded: list[str] = []
        self.scheduler = ModelScheduler(config, self._on_load, asyncio.get_running_loop(),
                                        on_unload=self.unloaded.append)

    def _on_load(self, model: str, victims: tuple[str, ...]) -> None:
        self.asked.append(model)
        self.victims.append(victims)

    def request(self, model: str | None) -> asyncio.Task[Lease]:
        return asyncio.get_running_loop().create_task(self.scheduler.acquire(model))


def run(test: Callable[[Harness], Awaitable[None]], **config: Any) -> None:
    async def main() -> None:
        # One model at a time unless a test says otherwise: the swap rules of a single slot.
        base = EndpointConfig(fairness_s=60.0, wait_s=30.0, idle_linger_s=0.0, max_models=1)
        await test(Harness(replace(base, **config)))

    asyncio.run(main())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_served_model_is_leased_at_once_and_another_waits_for_its_swap() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        lease = await h.scheduler.acquire("alpha")
        assert lease == Lease(URL, "alpha")
        assert (await h.scheduler.acquire(None)).model_id == "alpha"  # no model named: what is served
        beta = [h.request("beta") for _ in range(3)]
        await settle()
        assert h.asked == []  # alpha still has requests running, within the fairness window
        h.scheduler.release(lease)
        h.scheduler.release(Lease(URL, "alpha"))
        await settle()
        assert h.asked == ["beta"]  # alpha idle: beta's turn, asked for once for all three
        late_alpha = h.request("alpha")
        await settle()
        assert not late_alpha.done()  # alpha takes no new requests once beta was asked for
        h.scheduler.update(loading("beta"))
        h.scheduler.update(ready("beta"))
        await settle()
        assert all(task.done() and task.result().model_id == "beta" for task in beta)
        assert not late_alpha.done()
        for task in beta:
            h.scheduler.release(task.result())
        await settle()
        assert h.asked == ["beta", "alpha"]  # and back, for the request that queued meanwhile
        h.scheduler.update(ready("alpha"))
        await settle()
        assert (await late_alpha).model_id == "alpha"

    run(scenario)


def test_a_busy_model_yields_after_the_fairness_window() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        await h.scheduler.acquire("alpha")  # a long generation, never released here
        beta = h.request("beta")
        await settle()
        assert h.asked == []
        await asyncio.sleep(0.2)
        assert h.asked == ["beta"]
        with pytest.raises(TimeoutError):  # alpha's turn is over: new alpha requests queue
            await asyncio.wait_for(h.scheduler.acquire("alpha"), 0.05)
        beta.cancel()

    run(scenario, fairness_s=0.05)


def test_an_idle_model_lingers_for_its_client_to_come_back() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        h.scheduler.release(await h.scheduler.acquire("alpha"))
        beta = h.request("beta")
        await settle()
        assert h.asked == []  # alpha's client may be about to send its next request
        h.scheduler.release(await h.scheduler.acquire("alpha"))  # and it does
        for _ in range(100):
            if h.asked:
                break
            await asyncio.sleep(0.05)
        assert h.asked == ["beta"]  # alpha stayed idle: beta's turn
        beta.cancel()

    run(scenario, idle_linger_s=0.5)


def test_a_client_that_goes_away_leaves_the_queue() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        lease = await h.scheduler.acquire("alpha")
        beta = h.request("beta")
        await settle()
        beta.cancel()
        await settle()
        h.scheduler.release(lease)
        await settle()
        assert h.asked == []  # nobody waits for beta any more: no swap for it

    run(scenario)


def test_requests_wait_through_a_crash_restart_and_a_failed_start_wakes_them() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        h.scheduler.update(Backend(state="crashed", model_id="", wanted="alpha", error="killed"))
        during = h.request("alpha")
        anything = h.request(None)
        await settle()
        assert not during.done() and not anything.done() and h.asked == []
        h.scheduler.update(loading("alpha"))
        h.scheduler.update(ready("alpha"))
        assert (await during).model_id == "alpha" and (await anything).model_id == "alpha"

        h.scheduler.update(loading("beta"))
        waiting = h.request("beta")
        await settle()
        h.scheduler.update(Backend(state="crashed", wanted="", error="bad tensor data"))
        with pytest.raises(Unavailable, match="beta could not be started: bad tensor data"):
            await waiting
        states = dict(h.scheduler.model_states(["alpha", "beta"]))
        assert states == {"alpha": "unloaded", "beta": "failed"}

    run(scenario)


def test_nothing_served_nothing_coming() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(Unavailable, match=r"stopped\. A request naming a model loads it"):
            await h.scheduler.acquire(None)
        named = h.request("alpha")
        await settle()
        assert h.asked == ["alpha"]  # loaded on request
        assert dict(h.scheduler.model_states(["alpha", "beta"])) == {"alpha": "loading", "beta": "unloaded"}
        h.scheduler.refuse("alpha", "No model alpha.")
        with pytest.raises(Unavailable, match="No model alpha") as refused:
            await named
        assert refused.value.status == 404

    run(scenario)


def test_with_loading_on_request_off_a_model_not_served_is_refused_at_once() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        with pytest.raises(Unavailable, match="loading models on request is off") as refused:
            await h.scheduler.acquire("beta")
        assert refused.value.code == "model_not_loaded" and h.asked == []
        assert (await h.scheduler.acquire("alpha")).model_id == "alpha"
        h.scheduler.update(Backend(state="stopping"))
        with pytest.raises(Unavailable, match="Start a model in Llama Wrangler first"):
            await h.scheduler.acquire(None)

    run(scenario, load_on_request=False)


def test_retry_later_answers_at_once_and_still_loads_the_model() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        with pytest.raises(Unavailable) as refused:
            await h.scheduler.acquire("beta")
        assert refused.value.retry_after is not None and refused.value.status == 503
        await settle()
        assert h.asked == ["beta"]
        h.scheduler.update(ready("beta"))
        assert (await h.scheduler.acquire("beta")).model_id == "beta"

    run(scenario, retry_later=True)


def test_a_drain_waits_for_running_requests_and_admits_none() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        lease = await h.scheduler.acquire("alpha")
        drained: list[bool] = []
        h.scheduler.drain(URL, lambda: drained.append(True))
        assert drained == []
        later = h.request("alpha")
        await settle()
        assert not later.done()  # the old server takes nothing new while it drains
        h.scheduler.release(lease)
        assert drained == [True]
        h.scheduler.update(Backend(state="stopping", model_id="alpha", wanted="alpha"))
        h.scheduler.update(ready("alpha"))  # the same port again, a fresh server
        assert (await later).model_id == "alpha"

    run(scenario)


def test_a_stop_by_the_user_wakes_every_waiter() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.update(loading("alpha"))
        waiting = [h.request("alpha"), h.request(None)]
        await settle()
        h.scheduler.update(Backend(state="stopping", model_id="alpha"))
        h.scheduler.stopped_by_user()
        for task in waiting:
            with pytest.raises(Unavailable, match="stopped"):
                await task
        assert h.asked == []  # not reloaded behind the user's back

    run(scenario)


def test_a_users_load_waits_for_a_busy_model_with_loading_on_request_off() -> None:
    """`llama-wrangler load beta` (POST /models/load) while the one model that fits is busy: with loading on
    request off it still waits its turn — the user asked for beta; only *requests* may not load models."""
    async def scenario(h: Harness) -> None:
        h.scheduler.update(ready("alpha"))
        busy = await h.scheduler.acquire("alpha")
        h.scheduler.want("beta")
        load = asyncio.get_running_loop().create_task(h.scheduler.acquire("beta", wait=True))
        await settle()
        assert not load.done() and h.asked == []  # alpha's request is still running
        h.scheduler.release(busy)
        await settle()
        assert h.asked == ["beta"]
        h.scheduler.update(ready("beta"))
        await settle()
        assert load.done() and load.result().model_id == "beta"

    run(scenario, load_on_request=False)
