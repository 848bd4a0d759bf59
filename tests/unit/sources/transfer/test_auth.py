"""The one rule for which origins see a token."""

from __future__ import annotations

import pytest

from llama_wrangler.sources.transfer import may_see_token, token_headers
from llama_wrangler.sources.transfer.auth import origin_of

HUB = "https://huggingface.co"


@pytest.mark.parametrize("url", [
    "https://huggingface.co/org/repo/resolve/main/x.gguf",
    "https://HuggingFace.co/org/repo",  # host names are case-insensitive
    "https://huggingface.co:443/org/repo",  # the default port, spelled out
])
def test_the_auth_origin_itself_gets_the_token(url: str) -> None:
    assert may_see_token(url, HUB)
    assert token_headers(url, HUB, "hf_secret") == {"Authorization": "Bearer hf_secret"}


@pytest.mark.parametrize("url", [
    "https://cdn-lfs.huggingface.co/repos/ab/cd/x.gguf",  # the CDN a download redirects to
    "https://huggingface.co.evil.example/org/repo",  # a look-alike host
    "https://huggingface.co@evil.example/org/repo",  # user-info trick: the host is evil.example
    "https://huggingface.co:8443/org/repo",  # another port
    "http://huggingface.co/org/repo",  # https -> http downgrade
    "ftp://huggingface.co/org/repo",
    "not a url",
])
def test_any_other_origin_gets_no_token(url: str) -> None:
    assert not may_see_token(url, HUB)
    assert token_headers(url, HUB, "hf_secret") == {}


def test_an_http_origin_does_not_extend_to_https() -> None:
    mirror = "http://127.0.0.1:8080"
    assert may_see_token("http://127.0.0.1:8080/org/repo", mirror)
    assert not may_see_token("https://127.0.0.1:8080/org/repo", mirror)
    assert not may_see_token("http://127.0.0.1:8081/org/repo", mirror)


def test_no_origin_or_no_token_sends_nothing() -> None:
    assert not may_see_token(f"{HUB}/x", None)
    assert not may_see_token(f"{HUB}/x", "")
    assert token_headers(f"{HUB}/x", None, "hf_secret") == {}
    assert token_headers(f"{HUB}/x", HUB, None) == {}


def test_default_ports_are_filled_in() -> None:
    assert origin_of("http://example.org/x") == ("http", "example.org", 80)
    assert origin_of("https://Example.org:443") == ("https", "example.org", 443)
