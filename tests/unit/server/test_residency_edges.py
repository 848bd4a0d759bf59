"""Residency edge cases a demanding user meets: unloading a model that is still loading, a limit lowered
while several are loaded, a model bigger than the room."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from llama_wrangler.server.endpoint.lease import Backend, Unavailable
from llama_wrangler.server.endpoint.residency import Needs
from tests.unit.server.test_residency import GB, Harness, _loaded, needs, run, settle


def test_unloading_a_model_that_is_still_loading_fails_its_queued_requests_and_does_not_reload_it() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=1, beta=1))
        waiting = h.request("beta")
        await settle()
        assert h.loads == [("beta", ())]
        h.scheduler.update(Backend(state="loading", model_id="beta", wanted="beta", pid=7), "slot1")
        assert h.scheduler.unload("beta") and h.unloaded == ["beta"]
        await settle()
        with pytest.raises(Unavailable, match="unloaded"):
            await waiting  # the user said unload: the request is told so, not kept waiting for a reload
        h.scheduler.update(Backend(state="stopped"), "slot1")
        await settle()
        assert h.loads == [("beta", ())]  # not loaded again behind the user's back

    run(scenario)


def test_unloading_a_model_that_is_asked_for_but_not_placed_yet_is_not_a_not_loaded_error() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=1, beta=1))
        waiting = h.request("beta")
        await settle()
        assert dict(h.scheduler.model_states(["beta"]))["beta"] == "loading"
        assert h.scheduler.unload("beta")  # /models said "loading": unload must not answer "not loaded"
        with pytest.raises(Unavailable, match="unloaded"):
            await waiting
        assert h.unloaded == ["beta"]  # the fleet is told, in case its load order is already on its way

    run(scenario)


def test_lowering_max_models_unloads_the_least_recently_used_idle_ones() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=0.5, beta=0.5, gamma=0.5))
        for model in ("alpha", "beta", "gamma"):
            h.scheduler.release(await _loaded(h, model))
            await asyncio.sleep(0.01)
        h.scheduler.set_config(replace(h.scheduler.config, max_models=1))
        await settle()
        assert h.unloaded == ["alpha", "beta"]  # gamma, used last, stays

    run(scenario)


def test_a_model_bigger_than_the_room_is_loaded_alone_and_the_log_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs({**needs(alpha=1), "huge": Needs(ram_bytes=9 * GB)})
        h.load("alpha", "primary")
        task = h.request("huge")
        await settle()
        assert h.loads == [("huge", ("alpha",))]
        task.cancel()

    with caplog.at_level(logging.WARNING, logger="llama_wrangler.server.endpoint"):
        run(scenario)
    assert any("huge" in r.getMessage() and "more memory" in r.getMessage() for r in caplog.records)




def test_retry_later_clients_of_two_models_that_do_not_fit_together_each_get_their_turn() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=1, beta=1))
        with pytest.raises(Unavailable, match="Retry"):
            await h.scheduler.acquire("alpha")  # 503 + Retry-After; alpha loads meanwhile
        await settle()
        h.load("alpha", "primary")
        with pytest.raises(Unavailable, match="Retry"):
            await h.scheduler.acquire("beta")  # another client, another model: only one fits
        await asyncio.sleep(0.5)  # alpha's client comes back after Retry-After (seconds): shortened here
        assert h.loads == [("alpha", ())]  # alpha was not unloaded before its client could come back
        h.scheduler.release(await h.scheduler.acquire("alpha"))

    run(scenario, retry_later=True, max_models=1, idle_linger_s=0.3)


def test_two_models_asked_at_once_when_one_fits_take_turns_and_a_late_request_for_the_first_waits_its_turn() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=2, beta=2))  # 3 GB of room: one at a time
        alpha, beta = h.request("alpha"), h.request("beta")
        await settle()
        assert h.loads == [("alpha", ())]  # one load at a time, the oldest first
        h.load("alpha", "primary")
        lease = await alpha
        await settle()
        assert h.loads == [("alpha", ())] and not beta.done()  # alpha is busy: beta waits (fairness window)
        h.scheduler.release(lease)
        await settle()
        assert h.loads == [("alpha", ()), ("beta", ("alpha",))]
        late_alpha = h.request("alpha")  # alpha is on its way out: this one waits for its next load
        await settle()
        assert not late_alpha.done()
        h.stop("alpha")
        h.load("beta", "primary")
        h.scheduler.release(await beta)
        await settle()
        assert h.loads[-1] == ("alpha", ("beta",))
        h.stop("beta")
        h.load("alpha", "primary")
        assert (await late_alpha).model_id == "alpha"

    run(scenario)


def test_lowering_max_models_keeps_the_users_model_even_when_it_was_used_least_recently() -> None:
    async def scenario(h: Harness) -> None:
        h.scheduler.set_needs(needs(alpha=0.5, beta=0.5, gamma=0.5))
        h.scheduler.want("alpha")  # the window's model
        await settle()
        h.load("alpha", "primary")
        for model in ("beta", "gamma"):
            await asyncio.sleep(0.01)
            h.scheduler.release(await _loaded(h, model))
        h.scheduler.set_config(replace(h.scheduler.config, max_models=1))
        await settle()
        assert sorted(h.unloaded) == ["beta", "gamma"]

    run(scenario)
