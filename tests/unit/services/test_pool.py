"""The pool before serving: each worker checked, the plan built only from a whole, compatible pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.rpc_protocol import WorkerError
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.services.pool import check_workers, lost_workers, pooled_free_bytes, rpc_plan
from llama_wrangler.settings import PoolSettings
from tests.support.fake_rpc_worker import fake_worker, silent_listener


def runtime(build: int | None = PINNED.build_number) -> LlamaRuntime:
    return LlamaRuntime(root=None, server=Path("/x/llama-server"), quantize=None, convert_script=None,
                        convert_python=None, build_number=build, commit=None, backend="cpu")


def test_pool_settings_take_llama_servers_rpc_format() -> None:
    pool = PoolSettings(workers=" 10.0.0.2:50052, 10.0.0.3:50052 ,", tensor_split="3, 1")
    assert pool.workers == "10.0.0.2:50052,10.0.0.3:50052" and pool.worker_list() == ["10.0.0.2:50052",
                                                                                      "10.0.0.3:50052"]
    assert pool.split_list() == [3.0, 1.0]
    for bad in ({"workers": "10.0.0.2"}, {"workers": "a:1,a:1"}, {"tensor_split": "3,x"},
                {"tensor_split": "0,0"}, {"tensor_split": "-1,2"}):
        with pytest.raises(ValidationError):
            PoolSettings.model_validate(bad)


def test_a_whole_compatible_pool_becomes_a_plan() -> None:
    with fake_worker((7, 0, 0), [(4 * 10**9, 8 * 10**9)]) as first, fake_worker((7, 0, 1)) as second:
        statuses = check_workers([first, second], runtime())
        assert all(status.usable for status in statuses)
        assert pooled_free_bytes(statuses) == 10 * 10**9
        plan = rpc_plan(PoolSettings(workers=f"{first},{second}", tensor_split="1,2"), statuses)
    assert plan.workers == (first, second) and plan.tensor_split == (1.0, 2.0)
    assert "RPC 7.0.0, 4.0 GB free on 1 device(s)" in statuses[0].describe()


def test_a_pool_with_a_hole_is_refused_with_every_reason() -> None:
    with fake_worker((6, 0, 0)) as old, silent_listener() as busy, fake_worker((7, 0, 0)) as good:
        statuses = check_workers([old, busy, good], runtime(), timeout=0.5)
    assert [status.usable for status in statuses] == [False, False, True]
    with pytest.raises(WorkerError) as caught:
        rpc_plan(PoolSettings(), statuses)
    text = str(caught.value)
    assert f"{old}: RPC 6.0.0" in text and "speaks 7.0.0" in text and f"{busy}: " in text
    with pytest.raises(WorkerError, match="empty"):
        rpc_plan(PoolSettings(), [])


def test_a_split_must_name_one_share_per_worker() -> None:
    with fake_worker((7, 0, 0)) as only:
        statuses = check_workers([only], runtime())
    with pytest.raises(WorkerError, match="2 shares for 1 workers"):
        rpc_plan(PoolSettings(tensor_split="1,1"), statuses)


def test_a_foreign_build_is_checked_for_reachability_only() -> None:
    with fake_worker((9, 0, 0)) as future:
        [status] = check_workers([future], runtime(build=None))
    assert status.usable  # our own llama-server's protocol is unknown: llama-server itself will judge


def test_lost_workers_are_the_ones_that_refuse_connections() -> None:
    with fake_worker((7, 0, 0)) as alive, silent_listener() as gone:
        pass
    with fake_worker((7, 0, 0)) as alive:
        assert lost_workers([alive, gone]) == [gone]
