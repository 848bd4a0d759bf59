"""The conventions users already set (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HOME, OLLAMA_MODELS), resolved
in one place with where each value came from; network failures in plain words."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from llama_wrangler.errors import SourceError
from llama_wrangler.settings import DownloadSettings, Settings, TokenSource
from llama_wrangler.settings_env import effective_values, hf_cache, hf_endpoint, hf_token, hub_offline, ollama_models
from llama_wrangler.sources.hf_hub import OFFLINE_MESSAGE, HubAccess
from llama_wrangler.sources.transfer.net_words import network_words


def test_hf_endpoint_comes_from_the_environment_unless_set_here() -> None:
    env = {"HF_ENDPOINT": "https://mirror.example/"}
    found = hf_endpoint(DownloadSettings(), env)
    assert (found.value, found.origin) == ("https://mirror.example", "HF_ENDPOINT")
    mine = hf_endpoint(DownloadSettings(hf_endpoint="https://mine.example"), env)
    assert (mine.value, mine.origin) == ("https://mine.example", "your settings")
    assert hf_endpoint(DownloadSettings(), {}).value == "https://huggingface.co"
    assert hf_endpoint(DownloadSettings(), {}).origin == "the default"


def test_a_settings_file_holding_the_old_default_still_follows_hf_endpoint() -> None:
    # Files saved before this existed stored the built-in default; it must not hide a mirror.
    old = DownloadSettings(hf_endpoint="https://huggingface.co")
    assert hf_endpoint(old, {"HF_ENDPOINT": "http://127.0.0.1:9"}).value == "http://127.0.0.1:9"
    access = HubAccess.from_settings(old, {"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert access.endpoint == "http://127.0.0.1:9"


def test_an_empty_endpoint_is_valid_and_a_bad_one_is_not() -> None:
    assert DownloadSettings(hf_endpoint="").hf_endpoint == ""
    with pytest.raises(ValueError, match="http"):
        DownloadSettings(hf_endpoint="mirror.example")


def test_the_token_says_where_it_came_from_and_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llama_wrangler.settings_env.get_token", lambda: None)
    from_env = hf_token(DownloadSettings(), {"HF_TOKEN": "hf_abcdefghijkl"})
    assert (from_env.value, from_env.origin, from_env.shown) == ("hf_abcdefghijkl", "HF_TOKEN", "…ijkl")
    mine = hf_token(DownloadSettings(hf_token="hf_settings_token"), {"HF_TOKEN": "hf_abcdefghijkl"})
    assert mine.origin == "your settings"
    only_settings = hf_token(DownloadSettings(token_source=TokenSource.SETTINGS), {"HF_TOKEN": "hf_x"})
    assert only_settings.value == "" and only_settings.shown == "none"
    assert "hf_abcdefghijkl" not in from_env.describe()


def test_hf_hub_offline_refuses_hub_calls_in_plain_words() -> None:
    assert hub_offline({"HF_HUB_OFFLINE": "1"}) and hub_offline({"HF_HUB_OFFLINE": "ON"})
    assert not hub_offline({"HF_HUB_OFFLINE": "0"}) and not hub_offline({})
    access = HubAccess.from_settings(DownloadSettings(), {"HF_HUB_OFFLINE": "1"})
    with pytest.raises(SourceError, match="HF_HUB_OFFLINE") as caught:
        access.api()
    assert str(caught.value).startswith(OFFLINE_MESSAGE)


def test_caches_follow_hf_home_and_ollama_models(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert hf_cache(home).value == str(tmp_path / ".cache" / "huggingface" / "hub")
    assert hf_cache({**home, "HF_HOME": str(tmp_path / "hf")}).value == str(tmp_path / "hf" / "hub")
    assert hf_cache({**home, "HF_HOME": "x", "HF_HUB_CACHE": str(tmp_path / "c")}).origin == "HF_HUB_CACHE"
    assert ollama_models({**home, "OLLAMA_MODELS": str(tmp_path / "o")}).value == str(tmp_path / "o")
    assert ollama_models(home).origin == "the default"


def test_effective_values_name_every_origin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("llama_wrangler.settings_env.get_token", lambda: None)
    lines = [value.describe() for value in effective_values(
        Settings(), {"HOME": str(tmp_path), "HF_ENDPOINT": "http://mirror.test", "HF_HUB_OFFLINE": "1"})]
    assert lines[0] == "Hugging Face address: http://mirror.test (from HF_ENDPOINT)"
    assert "Hub access: offline (from HF_HUB_OFFLINE)" in lines
    assert "Hugging Face token: none (anonymous)" in lines


def test_network_failures_read_as_what_happened_without_errno_text() -> None:
    unresolved = httpx.ConnectError("[Errno -2] Name or service not known")
    words = network_words(unresolved, "huggingface.co", check="HF_ENDPOINT")
    assert words == ("Can't reach huggingface.co: the name does not resolve — check your connection or "
                     "HF_ENDPOINT.")
    with socket.socket() as probe:  # a loopback port nobody listens on: a real refused connection
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx.ConnectError) as refused, httpx.Client() as client:
        client.get(f"http://127.0.0.1:{port}/")
    words = network_words(refused.value, "127.0.0.1")
    assert words == "127.0.0.1 refused the connection — check the address." and "Errno" not in words
    assert "did not answer in time" in network_words(httpx.ReadTimeout("timed out"), "cdn.example")
