from __future__ import annotations

import pytest

from llama_wrangler.errors import ServerError
from llama_wrangler.server.ports import choose_port, connect_host, pick_free_port, port_is_free, url_host
from llama_wrangler.settings import PortConflict


def test_listening_port_is_busy(busy_port: int) -> None:
    assert not port_is_free("127.0.0.1", busy_port)


def test_picked_port_is_free() -> None:
    port = pick_free_port("127.0.0.1")
    assert port_is_free("127.0.0.1", port)


def test_fail_policy_names_the_port(busy_port: int) -> None:
    with pytest.raises(ServerError, match=f"Port {busy_port}"):
        choose_port("127.0.0.1", busy_port, PortConflict.FAIL)


def test_pick_free_policy_takes_another_port(busy_port: int) -> None:
    port = choose_port("127.0.0.1", busy_port, PortConflict.PICK_FREE)
    assert port != busy_port
    assert port_is_free("127.0.0.1", port)


def test_free_port_is_kept() -> None:
    port = pick_free_port("127.0.0.1")
    assert choose_port("127.0.0.1", port, PortConflict.FAIL) == port


def test_unusable_host_is_a_clear_error() -> None:
    with pytest.raises(ServerError, match="server address"):
        port_is_free("192.0.2.1", 8080)  # TEST-NET address: not on this machine


def test_wildcard_binds_are_reached_on_loopback() -> None:
    assert connect_host("0.0.0.0") == "127.0.0.1"  # noqa: S104  (not binding)
    assert connect_host("::") == "::1"
    assert url_host("::1") == "[::1]"
    assert url_host("127.0.0.1") == "127.0.0.1"
