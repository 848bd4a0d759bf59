"""The per-file downloader against loopback servers: the token rule across redirects, resume, retry,
expired links, files of unknown size."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llama_wrangler.errors import ChecksumMismatchError, SourceError
from llama_wrangler.progress import Progress
from llama_wrangler.sources.transfer import (
    BesideTarget,
    FetchItem,
    FileDownloader,
    RemoteFile,
    RetryPolicy,
    SourceWording,
    fetch_files,
)
from tests.support.static_http import static_server

BODY = bytes(range(256)) * 400
SHA = hashlib.sha256(BODY).hexdigest()
WORDING = SourceWording("the mirror", "f.bin")
FAST = RetryPolicy(retries=2, backoff_base_s=0.0)


def downloader(token: str | None = None) -> FileDownloader:
    return FileDownloader(BesideTarget(), token=token, retry=FAST)


def test_the_token_goes_to_the_auth_origin_never_to_the_host_it_redirects_to(tmp_path: Path) -> None:
    with static_server() as origin, static_server({"/blob": (200, "application/octet-stream", BODY)}) as cdn:
        origin.redirects["/f"] = cdn.url("/blob")
        remote = RemoteFile(url=origin.url("/f"), size=len(BODY), name="f.bin", sha256=SHA,
                            auth_origin=origin.base_url)
        part = tmp_path / "f.bin.part"
        part.write_bytes(BODY[:1000])  # resumed: the range goes along the redirect, the token does not
        loader = downloader("s3cret")
        try:
            loader.fetch(remote, tmp_path / "f.bin", wording=WORDING)
        finally:
            loader.close()
        assert (tmp_path / "f.bin").read_bytes() == BODY
        assert [(c.authorization, c.range) for c in origin.calls] == [("Bearer s3cret", "bytes=1000-")]
        assert [(c.authorization, c.range) for c in cdn.calls] == [(None, "bytes=1000-")]


def test_a_file_without_an_auth_origin_sends_no_token_anywhere(tmp_path: Path) -> None:
    with static_server({"/f": (200, "application/octet-stream", BODY)}) as server:
        remote = RemoteFile(url=server.url("/f"), size=len(BODY), name="f.bin", sha256=SHA)
        downloader("s3cret").fetch(remote, tmp_path / "f.bin", wording=WORDING)
        assert [c.authorization for c in server.calls] == [None]


def test_an_expired_cdn_link_is_asked_for_again_once(tmp_path: Path) -> None:
    with static_server() as origin, static_server({"/new": (200, "application/octet-stream", BODY)}) as cdn:
        origin.redirects["/f"] = cdn.url("/old")
        cdn.routes["/old"] = (403, "text/plain", b"expired")
        stale = RemoteFile(url=origin.url("/f"), size=len(BODY), name="f.bin", sha256=SHA,
                           auth_origin=origin.base_url)
        asked: list[str] = []

        def refresh() -> RemoteFile:
            asked.append("again")
            return RemoteFile(url=cdn.url("/new"), size=len(BODY), name="f.bin", sha256=SHA,
                              auth_origin=origin.base_url)

        downloader("t").fetch(stale, tmp_path / "f.bin", wording=WORDING, refresh=refresh)
        assert asked == ["again"] and (tmp_path / "f.bin").read_bytes() == BODY

        with pytest.raises(SourceError, match=r"The mirror refused access to f\.bin \(403\)"):
            downloader("t").fetch(stale, tmp_path / "g.bin", wording=WORDING, refresh=lambda: stale)


def test_server_errors_are_retried_and_client_errors_are_not(tmp_path: Path) -> None:
    with static_server({"/f": (200, "application/octet-stream", BODY)}) as server:
        server.fail_once("/f", 503, retry_after=0)
        server.fail_once("/f", 429, retry_after=0)
        remote = RemoteFile(url=server.url("/f"), size=len(BODY), name="f.bin", sha256=SHA)
        downloader().fetch(remote, tmp_path / "f.bin", wording=WORDING)
        assert server.requested == ["/f"] * 3
        missing = RemoteFile(url=server.url("/gone"), size=1, name="gone.bin")
        with pytest.raises(SourceError, match=r"The mirror has no f\.bin \(404\)"):
            downloader().fetch(missing, tmp_path / "gone.bin", wording=WORDING)
        assert server.requested.count("/gone") == 1


def test_a_file_of_unknown_size_learns_it_from_the_response(tmp_path: Path) -> None:
    with static_server({"/f": (200, "application/octet-stream", BODY)}) as server:
        remote = RemoteFile(url=server.url("/f"), size=None, name="f.bin", sha256=SHA)
        reports: list[Progress] = []
        fetch_files(downloader(), [FetchItem(remote, tmp_path / "f.bin", WORDING)], label="f.bin",
                    progress=reports.append)
        assert (tmp_path / "f.bin").read_bytes() == BODY
        assert reports[-1].done == reports[-1].total == len(BODY)


def test_a_checksum_mismatch_deletes_the_partial_and_keeps_nothing(tmp_path: Path) -> None:
    with static_server({"/f": (200, "application/octet-stream", BODY)}) as server:
        remote = RemoteFile(url=server.url("/f"), size=len(BODY), name="f.bin", sha256="0" * 64)
        with pytest.raises(ChecksumMismatchError, match=r"f\.bin is corrupt"):
            downloader().fetch(remote, tmp_path / "f.bin", wording=WORDING)
        assert list(tmp_path.iterdir()) == []
