"""The one HTTP-status -> error mapping, in each source's words."""

from __future__ import annotations

import httpx
import pytest

from llama_wrangler.errors import DownloadError, SourceError, WranglerError
from llama_wrangler.sources.hf_errors import GATED_MESSAGE, GatedRepoAccessError, HubNotFoundError, HubWording
from llama_wrangler.sources.transfer import SourceWording, TransientError, status_error
from llama_wrangler.sources.transfer.status import retry_after_seconds

WORDING = SourceWording("the mirror", "x.bin")


@pytest.mark.parametrize(("status", "kind", "text"), [
    (404, SourceError, "The mirror has no x.bin (404)."),
    (401, SourceError, "The mirror refused access to x.bin (401)."),
    (403, SourceError, "The mirror refused access to x.bin (403)."),
    (416, DownloadError, "The mirror rejected the byte range for x.bin (416)"),
    (429, TransientError, "The mirror is rate-limiting requests for x.bin (429)."),
    (500, TransientError, "The mirror had a server error (500) on x.bin."),
    (503, TransientError, "The mirror had a server error (503) on x.bin."),
    (418, SourceError, "The mirror answered 418 for x.bin."),
])
def test_each_status_becomes_one_kind_of_error(status: int, kind: type[Exception], text: str) -> None:
    error = status_error(status, WORDING)
    assert type(error) is kind
    assert text in str(error)


def test_retry_after_comes_from_the_header_or_the_caller() -> None:
    limited = status_error(429, WORDING, httpx.Headers({"Retry-After": "12"}))
    assert isinstance(limited, TransientError) and limited.retry_after == 12.0
    busy = status_error(503, WORDING, httpx.Headers({"Retry-After": "12"}), retry_after=3.0)
    assert isinstance(busy, TransientError) and busy.retry_after == 3.0
    assert isinstance(plain := status_error(502, WORDING), TransientError) and plain.retry_after is None


@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7.0), ("0", 0.0), ("-4", 0.0), ("2.5", 2.5), (None, None), ("", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", None),  # an HTTP date: our own backoff applies
])
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_a_source_reads_its_own_error_codes_first() -> None:
    class Coded(SourceWording):
        def special(self, status: int, headers: httpx.Headers) -> WranglerError | None:
            return SourceError("quota") if headers.get("X-Code") == "Quota" else None

    assert str(status_error(503, Coded("s", "w"), httpx.Headers({"X-Code": "Quota"}))) == "quota"
    assert isinstance(status_error(503, Coded("s", "w")), TransientError)


def test_the_hub_words_its_failures_from_its_error_code_header() -> None:
    wording = HubWording("org/repo", file="x.gguf", revision="main")
    gated = status_error(403, wording, httpx.Headers({"X-Error-Code": "GatedRepo"}))
    assert isinstance(gated, GatedRepoAccessError) and str(gated) == GATED_MESSAGE
    missing = status_error(404, wording, httpx.Headers({"X-Error-Code": "RepoNotFound"}))
    assert isinstance(missing, HubNotFoundError) and "org/repo was not found on the Hub" in str(missing)
    assert "x.gguf does not exist in org/repo at main" in str(status_error(404, wording))
    assert "Set a valid Hugging Face token in Settings." in str(status_error(401, wording))
    assert "The Hub had a server error (502) on x.gguf in org/repo." in str(status_error(502, wording))
