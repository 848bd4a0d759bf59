"""Runtime downloads (release zips, source archives, the sdist) go through the transfer layer: they resume
a partial, retry a busy server, and fail fast on an unreachable host or a missing file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llama_wrangler.errors import ChecksumMismatchError, DownloadError
from llama_wrangler.progress import Progress
from llama_wrangler.runtime import fetch
from llama_wrangler.sources.transfer import RetryPolicy
from tests.support.static_http import static_server

BODY = b"llama" * 100_000
SHA = hashlib.sha256(BODY).hexdigest()


def test_a_pinned_download_resumes_the_partial_an_earlier_run_left(tmp_path: Path) -> None:
    (tmp_path / "r.zip.part").write_bytes(BODY[:123_456])
    reports: list[Progress] = []
    with static_server({"/r.zip": (200, "application/zip", BODY)}) as server:
        fetch.download(server.url("/r.zip"), tmp_path / "r.zip", sha256=SHA, stage="download release",
                       progress=reports.append)
        assert [c.range for c in server.calls] == ["bytes=123456-"]
    assert (tmp_path / "r.zip").read_bytes() == BODY
    assert not (tmp_path / "r.zip.part").exists()
    assert reports[-1].stage == "download release" and reports[-1].done == reports[-1].total == len(BODY)


def test_an_unpinned_download_starts_a_stale_partial_over(tmp_path: Path) -> None:
    (tmp_path / "src.tar.gz.part").write_bytes(b"bytes of some other file")
    with static_server({"/src.tar.gz": (200, "application/gzip", BODY)}) as server:
        fetch.download(server.url("/src.tar.gz"), tmp_path / "src.tar.gz")
        assert [c.range for c in server.calls] == [None]
    assert (tmp_path / "src.tar.gz").read_bytes() == BODY


def test_a_busy_server_is_retried(tmp_path: Path) -> None:
    with static_server({"/r.zip": (200, "application/zip", BODY)}) as server:
        server.fail_once("/r.zip", 503, retry_after=0)
        server.fail_once("/r.zip", 429, retry_after=0)
        fetch.download(server.url("/r.zip"), tmp_path / "r.zip", sha256=SHA)
        assert server.requested == ["/r.zip"] * 3
    assert (tmp_path / "r.zip").read_bytes() == BODY


def test_a_server_that_stays_busy_is_given_up_on(tmp_path: Path) -> None:
    with static_server({"/r.zip": (200, "application/zip", BODY)}) as server:
        for _ in range(3):
            server.fail_once("/r.zip", 503, retry_after=0)
        with pytest.raises(DownloadError, match=r"Gave up downloading r\.zip after 2 retries: .*503"):
            fetch.download(server.url("/r.zip"), tmp_path / "r.zip", sha256=SHA, retry=RetryPolicy(retries=2))
        assert server.requested == ["/r.zip"] * 3
    assert not (tmp_path / "r.zip").exists()


def test_a_missing_file_is_not_retried(tmp_path: Path) -> None:
    with static_server() as server:
        with pytest.raises(DownloadError, match=r"/gone\.zip answered HTTP 404\."):
            fetch.download(server.url("/gone.zip"), tmp_path / "gone.zip", sha256=SHA)
        assert server.requested == ["/gone.zip"]


def test_a_wrong_checksum_keeps_nothing(tmp_path: Path) -> None:
    (tmp_path / "r.zip.part").write_bytes(BODY[:1000])
    with (static_server({"/r.zip": (200, "application/zip", BODY)}) as server,
          pytest.raises(ChecksumMismatchError, match="does not match its pinned checksum")):
        fetch.download(server.url("/r.zip"), tmp_path / "r.zip", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []
