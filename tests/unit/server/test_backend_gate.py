from __future__ import annotations

import threading

import pytest

from llama_wrangler.server.backend_gate import BackendGate, BackendUnavailable, Lease


def acquire_in_thread(gate: BackendGate, model_id: str | None = None) -> tuple[threading.Thread, list[object]]:
    box: list[object] = []

    def run() -> None:
        try:
            box.append(gate.acquire(30, model_id))
        except BackendUnavailable as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_a_down_gate_says_why() -> None:
    gate = BackendGate()
    gate.set_down("The server crashed: out of memory")
    with pytest.raises(BackendUnavailable, match="out of memory"):
        gate.acquire(5)


def test_a_ready_gate_leases_its_backend_and_counts_it() -> None:
    gate = BackendGate()
    gate.set_ready("http://127.0.0.1:9", "alpha")
    lease = gate.acquire(5)
    assert lease == Lease("http://127.0.0.1:9", "alpha")
    assert gate.in_flight(lease.url) == 1
    assert not gate.wait_drained(lease.url, 0)
    gate.release(lease)
    assert gate.in_flight(lease.url) == 0
    assert gate.wait_drained(lease.url, 0)


def test_a_waiting_request_goes_to_the_backend_that_becomes_ready() -> None:
    gate = BackendGate()
    gate.set_waiting("beta")
    thread, box = acquire_in_thread(gate)
    gate.set_ready("http://127.0.0.1:10", "beta")
    thread.join(30)
    assert box == [Lease("http://127.0.0.1:10", "beta")]


def test_a_request_for_a_model_skips_the_one_still_served() -> None:
    gate = BackendGate()
    gate.set_ready("http://127.0.0.1:9", "alpha")
    thread, box = acquire_in_thread(gate, "beta")
    assert gate.expect("beta")
    assert not gate.expect("beta")  # already on its way: no second swap
    gate.set_ready("http://127.0.0.1:10", "beta")
    thread.join(30)
    assert box == [Lease("http://127.0.0.1:10", "beta")]


def test_a_refused_model_fails_its_waiting_requests() -> None:
    gate = BackendGate()
    gate.set_ready("http://127.0.0.1:9", "alpha")
    gate.expect("beta")
    thread, box = acquire_in_thread(gate, "beta")
    gate.refuse("beta", "The file of model beta is missing.")
    thread.join(30)
    assert len(box) == 1 and isinstance(box[0], BackendUnavailable)
    assert "missing" in str(box[0])


def test_waiting_ends_when_the_time_is_up() -> None:
    gate = BackendGate()
    gate.set_waiting("alpha")
    with pytest.raises(BackendUnavailable, match="did not become ready"):
        gate.acquire(0.01)
