"""One ranged GET of a file into its partial: the byte-moving step of
:class:`~llama_wrangler.sources.transfer.downloader.FileDownloader`.

:class:`SingleStream` moves the rest of the file over one connection, from the partial's end. It is the
downloader's strategy for filling a partial; a strategy that fills several byte ranges in parallel plugs in
at the same place: :class:`~llama_wrangler.sources.transfer.ranged.RangedParts` fills pre-allocated pieces over
several connections, and the downloader uses it whenever a file's size is known and spans several pieces.

Redirects are followed here, not by httpx, so that :func:`~llama_wrangler.sources.transfer.auth.may_see_token`
decides at every hop whether the token goes along: the Hub's 302 to its CDN arrives there without it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from llama_wrangler.errors import CancelledError, DownloadError
from llama_wrangler.progress import CancelToken
from llama_wrangler.sources.transfer.auth import may_see_token, token_headers
from llama_wrangler.sources.transfer.meter import ByteMeter
from llama_wrangler.sources.transfer.remote import RemoteFile
from llama_wrangler.sources.transfer.status import SourceWording, TransientError, status_error
from llama_wrangler.sources.transfer.verify import BackgroundHash

MAX_REDIRECTS = 10


@dataclass(frozen=True)
class Filled:
    """Where a fill left the partial: its length, the hash over exactly those bytes, and the file's total
    size when the server said it (``Content-Length`` / ``Content-Range``)."""

    have: int
    hasher: Any
    total: int | None


class ExpiredLinkError(Exception):
    """A host other than the auth origin (a CDN) refused a signed link: it may have expired."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class FillStrategy(Protocol):
    """Moves bytes of ``remote`` into ``part`` (which holds ``have`` bytes hashed into ``hasher``)."""

    def fill(self, client: httpx.Client, remote: RemoteFile, part: Path, have: int, hasher: Any, *,
             token: str | None, wording: SourceWording, meter: ByteMeter, cancel: CancelToken) -> Filled: ...


class SingleStream:
    """The rest of the file in one ranged GET (``Range: bytes=<have>-``)."""

    def __init__(self) -> None:
        self.bytes_fetched = 0  # body bytes received over the network (benchmarks)

    def fill(self, client: httpx.Client, remote: RemoteFile, part: Path, have: int, hasher: Any, *,
             token: str | None, wording: SourceWording, meter: ByteMeter, cancel: CancelToken) -> Filled:
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        with open_following_redirects(client, remote, headers, token) as response:
            status = response.status_code
            total = remote.size
            if status == 416 or (status == 200 and have):
                # The server will not continue where we are: start the file again.
                part.unlink(missing_ok=True)
                meter.credit(-have)
                hasher, have = hashlib.sha256(), 0
                if status == 416:
                    return Filled(have, hasher, total)
            elif status == 206:
                stated = _check_content_range(response.headers.get("Content-Range"), have, remote, wording)
                total = total if total is not None else stated  # the published size wins over the server's
            elif status != 200:
                raise answer_error(response, remote, wording)
            if status == 200 and total is None:
                total = _int(response.headers.get("Content-Length"))
            if meter.total is None and total is not None:
                meter.total = total  # a file of unknown size: the bar learns it from the server
            have, hasher = self._write(response, remote, part, have, hasher, total, wording, meter, cancel)
        meter.add(0, force=True)
        return Filled(have, hasher, total)

    def _write(self, response: httpx.Response, remote: RemoteFile, part: Path, have: int, hasher: Any,
               total: int | None, wording: SourceWording, meter: ByteMeter,
               cancel: CancelToken) -> tuple[int, Any]:
        hashing = BackgroundHash(hasher)
        try:
            with part.open("ab") as handle:
                # No chunk_size: httpx would buffer up to it, and a dropped connection would lose that
                # buffer instead of leaving it on disk for the resume.
                for chunk in response.iter_raw():
                    handle.write(chunk)
                    hashing.update(chunk)
                    have += len(chunk)
                    self.bytes_fetched += len(chunk)
                    meter.add(len(chunk))
                    if total is not None and have > total:
                        raise DownloadError(f"{wording.server_title} sent more bytes than {remote.name} has; "
                                            "the partial was kept.")
                    if cancel.cancelled:
                        raise CancelledError("Cancelled; the partial download was kept and will resume.")
        finally:
            hasher = hashing.finish()  # the hash covers exactly the bytes written, whatever happened
        return have, hasher


@contextlib.contextmanager
def open_following_redirects(client: httpx.Client, remote: RemoteFile, headers: dict[str, str],
                             token: str | None, *, timeout: httpx.Timeout | None = None) -> Iterator[httpx.Response]:
    """GET ``remote.url`` as a stream, following redirects; the token goes only to hops the rule allows.
    ``headers`` (the range) go to every hop; ``timeout`` replaces the client's (a ranged part's stall limit)."""
    url = remote.url
    for _hop in range(MAX_REDIRECTS + 1):
        request = client.build_request("GET", url, headers={**headers,
                                                            **token_headers(url, remote.auth_origin, token)},
                                       timeout=timeout if timeout is not None else client.timeout)
        response = client.send(request, stream=True, follow_redirects=False)
        if not response.has_redirect_location:
            try:
                yield response
            finally:
                response.close()
            return
        response.close()
        url = str(response.url.join(response.headers["Location"]))
    raise DownloadError(f"Too many redirects while downloading {remote.name}.")


def answer_error(response: httpx.Response, remote: RemoteFile, wording: SourceWording) -> Exception:
    """The error for a failed answer; a 401/403 from a host that is not the auth origin (a CDN refusing a
    signed link) is :class:`ExpiredLinkError`, so that the link is asked for again."""
    status = response.status_code
    if status in (401, 403) and not may_see_token(str(response.url), remote.auth_origin):
        return ExpiredLinkError(status)
    return status_error(status, wording, response.headers)


def _check_content_range(value: str | None, have: int, remote: RemoteFile, wording: SourceWording) -> int | None:
    """The file's total size from ``bytes <start>-<end>/<total>``; a resume at the wrong byte is retried."""
    if value is None:
        return None
    with contextlib.suppress(ValueError, IndexError):
        start = int(value.split()[1].split("-")[0])
        if start != have:
            raise TransientError(f"{wording.server_title} resumed {remote.name} at byte {start}, not {have}.")
    return _int(value.rpartition("/")[2])


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
