"""Talking to llama.cpp RPC workers: addresses, versions, and what a probe says about odd peers."""

from __future__ import annotations

import pytest

from llama_wrangler.runtime.rpc_protocol import (
    PINNED_VERSION,
    RpcVersion,
    WorkerError,
    check_compatible,
    parse_address,
    probe_worker,
    reachable,
)
from tests.support.fake_rpc_worker import banner_listener, fake_worker, silent_listener


def test_addresses_parse_like_llama_server_takes_them() -> None:
    assert parse_address("192.168.1.20:50052") == ("192.168.1.20", 50052)
    assert parse_address(" worker.lan:1 ") == ("worker.lan", 1)
    assert parse_address("[fe80::1]:50052") == ("fe80::1", 50052)
    for bad in ("", "host", "host:", ":50052", "host:0", "host:70000", "a b:1", "a,b:1", "host:port"):
        with pytest.raises(WorkerError, match="not a worker address"):
            parse_address(bad)


def test_versions_follow_llama_cpps_rule() -> None:
    local = RpcVersion(7, 1, 0)
    assert local.accepts(RpcVersion(7, 0, 3)) and local.accepts(RpcVersion(7, 1, 9))
    assert not local.accepts(RpcVersion(7, 2, 0))  # a newer minor: features we do not have
    assert not local.accepts(RpcVersion(6, 9, 0)) and not local.accepts(RpcVersion(8, 0, 0))
    assert str(PINNED_VERSION) == "7.0.0"


def test_a_probe_reads_version_and_memory() -> None:
    with fake_worker((7, 0, 0), [(3_000_000_000, 4_000_000_000), (1_000_000_000, 2_000_000_000)]) as address:
        info = probe_worker(address)
    assert info.address == address and info.version == RpcVersion(7, 0, 0)
    assert [device.free for device in info.devices] == [3_000_000_000, 1_000_000_000]
    assert info.free_bytes == 4_000_000_000


def test_a_worker_of_another_build_is_refused_naming_both_versions() -> None:
    with fake_worker((6, 1, 0)) as address:
        info = probe_worker(address)
    with pytest.raises(WorkerError) as caught:
        check_compatible(info, PINNED_VERSION, "b11312")
    assert "RPC protocol 6.1.0" in str(caught.value) and "(b11312) speaks 7.0.0" in str(caught.value)


def test_odd_peers_get_plain_reasons() -> None:
    with silent_listener() as address:
        with pytest.raises(WorkerError, match=r"did not answer within 0\.5 s"):
            probe_worker(address, timeout=0.5)
        assert reachable(address)  # busy, but there
    with banner_listener() as address, pytest.raises(WorkerError, match=r"does not speak llama\.cpp's RPC"):
        probe_worker(address, timeout=2)  # e.g. an SSH server on that port
    with silent_listener() as address:
        pass  # closed again: nothing listens there now
    with pytest.raises(WorkerError, match="cannot be reached"):
        probe_worker(address, timeout=1)
    assert not reachable(address)
