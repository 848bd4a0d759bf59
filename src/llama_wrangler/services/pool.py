"""The worker pool before and during serving: every worker checked (reachable, the same llama.cpp build,
its free memory), turned into llama-server's ``--rpc`` plan, and a crash explained when a worker went
away. Qt-free: the CLI calls it directly, the window from a job thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.rpc_protocol import (
    PINNED_VERSION,
    RpcVersion,
    WorkerError,
    WorkerInfo,
    check_compatible,
    probe_worker,
    reachable,
)
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.argv import RpcPlan
from llama_wrangler.settings import PoolSettings
from llama_wrangler.units import human_bytes

PROBE_TIMEOUT_S = 3.0
LOST_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as checked: what it said, or why it cannot be used ('' when it can)."""

    address: str
    info: WorkerInfo | None
    problem: str = ""

    @property
    def usable(self) -> bool:
        return self.info is not None and not self.problem

    def describe(self) -> str:
        if self.info is None:
            return f"{self.address}: {self.problem}"
        memory = f"{human_bytes(self.info.free_bytes)} free on {len(self.info.devices)} device(s)"
        verdict = f" — {self.problem}" if self.problem else ""
        return f"{self.address}: RPC {self.info.version}, {memory}{verdict}"


def local_protocol(runtime: LlamaRuntime) -> tuple[RpcVersion | None, str]:
    """The RPC protocol this computer's llama-server speaks, and how to name its build. Our pinned build
    is known; a binary we did not build is not (its workers are then only checked for reachability)."""
    if runtime.build_number == PINNED.build_number:
        return PINNED_VERSION, f"b{PINNED.build_number}"
    build = f"b{runtime.build_number}" if runtime.build_number else "an unknown build"
    return None, build


def check_workers(addresses: Sequence[str], runtime: LlamaRuntime, *,
                  timeout: float = PROBE_TIMEOUT_S) -> list[WorkerStatus]:
    """Probe every worker at once (each may take ``timeout``) and judge it against ``runtime``."""
    local, build = local_protocol(runtime)

    def one(address: str) -> WorkerStatus:
        try:
            info = probe_worker(address, timeout=timeout)
        except WorkerError as exc:
            return WorkerStatus(address, None, str(exc))
        if local is not None:
            try:
                check_compatible(info, local, build)
            except WorkerError as exc:
                return WorkerStatus(address, info, str(exc))
        if not info.devices:
            return WorkerStatus(address, info, "it offers no devices")
        return WorkerStatus(address, info)

    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(addresses))) as pool:
        return list(pool.map(one, addresses))


def rpc_plan(settings: PoolSettings, statuses: Sequence[WorkerStatus]) -> RpcPlan:
    """The ``--rpc`` plan for a pool whose every worker is usable; otherwise a :class:`WorkerError`
    naming each problem (a model is never split over a pool with a hole in it)."""
    if not statuses:
        raise WorkerError("The worker pool is empty.",
                          hint="Add workers with `llama-wrangler pool add HOST:PORT` or in Settings → Pool.")
    problems = [status for status in statuses if not status.usable]
    if problems:
        lines = "; ".join(status.describe() for status in problems)
        raise WorkerError(f"The pool cannot be used: {lines}")
    split = tuple(settings.split_list())
    if split and len(split) != len(statuses):
        raise WorkerError(f"The tensor split names {len(split)} shares for {len(statuses)} workers.",
                          hint="Give one share per worker, in the pool's order, or leave it empty.")
    return RpcPlan(tuple(status.address for status in statuses), split)


def pooled_free_bytes(statuses: Sequence[WorkerStatus]) -> int:
    """Memory the usable workers offer together (what the fit estimate adds to this computer's)."""
    return sum(status.info.free_bytes for status in statuses if status.usable and status.info is not None)


def lost_workers(addresses: Sequence[str], *, timeout: float = LOST_TIMEOUT_S) -> list[str]:
    """The workers that no longer accept connections (a worker busy serving still does)."""
    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(addresses))) as pool:
        alive = list(pool.map(lambda address: reachable(address, timeout=timeout), addresses))
    return [address for address, ok in zip(addresses, alive, strict=True) if not ok]


def lost_message(lost: Sequence[str]) -> str:
    names = ", ".join(lost)
    return (f"The model server stopped because pool worker{'s' if len(lost) > 1 else ''} {names} "
            f"{'were' if len(lost) > 1 else 'was'} lost mid-serve (no longer accepting connections). "
            "Restart the worker, or serve without the pool.")
