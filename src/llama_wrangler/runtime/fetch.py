"""Download one file over HTTP(S) with progress, cancel, resume, retry and an optional sha256 check.

Used for the llama.cpp source archive, the PyPI sdist and prebuilt release zips; the bytes move through the
same transfer layer as model downloads (:mod:`llama_wrangler.sources.transfer`). They go to
``<target>.part`` and only get the final name once complete (and verified). A dropped connection, a 5xx or
a 429 is retried, resuming where the bytes stopped; a partial left by an earlier run is resumed when a
sha256 is pinned (it will be checked), and started over when not.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from llama_wrangler.errors import CancelledError, DownloadError, WranglerError
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.transfer import (
    BesideTarget,
    FetchItem,
    FileDownloader,
    RemoteFile,
    RetryPolicy,
    SourceWording,
    fetch_files,
    open_client,
)
from llama_wrangler.sources.transfer.net_words import host_of, network_words
from llama_wrangler.sources.transfer.verify import sha256_file

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0

__all__ = ["download", "get_json", "sha256_file"]


class UrlWording(SourceWording):
    """Failures named by URL (the servers here are GitHub, PyPI or a configured mirror)."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(url, url, label=name)
        self.url = url

    def _answered(self, status: int) -> WranglerError:
        return DownloadError(f"{self.url} answered HTTP {status}.")

    def not_found(self) -> WranglerError:
        return self._answered(404)

    def refused(self, status: int) -> WranglerError:
        return self._answered(status)

    def other(self, status: int) -> WranglerError:
        return self._answered(status)

    def range_rejected(self) -> str:
        return f"{self.url} answered HTTP 416."

    def rate_limited(self) -> str:
        return f"{self.url} answered HTTP 429."

    def server_error(self, status: int) -> str:
        return f"{self.url} answered HTTP {status}."

    def unreachable(self, exc: Exception) -> WranglerError:
        return DownloadError(f"Could not download {self.url}: {exc or type(exc).__name__}.")

    def corrupt(self, digest: str, expected: str) -> str:
        return (f"{self.label} does not match its pinned checksum (got {digest}, expected {expected}); "
                "it was not used.")


def client(timeout: float | None = None) -> httpx.Client:
    return open_client(read_timeout_s=READ_TIMEOUT_S if timeout is None else timeout,
                       connect_timeout_s=CONNECT_TIMEOUT_S)


def get_json(url: str, *, timeout: float | None = None) -> object:
    """GET a JSON document; network and HTTP failures become :class:`DownloadError`."""
    try:
        with client(timeout) as http:
            response = http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            return response.json()
    except httpx.HTTPStatusError as exc:
        raise DownloadError(f"{url} answered HTTP {exc.response.status_code}.") from exc
    except httpx.HTTPError as exc:
        raise DownloadError(network_words(exc, host_of(exc, url))) from exc
    except ValueError as exc:
        raise DownloadError(f"{url} did not return JSON.") from exc


def download(url: str, target: Path, *, sha256: str | None = None, stage: str = "download",
             progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
             timeout: float | None = None, retry: RetryPolicy | None = None) -> Path:
    """Fetch ``url`` into ``target``. Raises :class:`DownloadError` / :class:`ChecksumMismatchError`.

    A host that refuses the connection fails at once (no retries): it is most likely a wrong URL.
    """
    place = BesideTarget()
    remote = RemoteFile(url=url, size=None, name=target.name, sha256=sha256.lower() if sha256 else None,
                        key=url)
    part, _sidecar = place.paths_for(remote, target)
    if sha256 is None:
        # Nothing would catch a stale partial of other bytes: start over.
        part.unlink(missing_ok=True)
    item = FetchItem(remote, target, UrlWording(url, target.name))
    policy = retry or RetryPolicy(retry_unreachable=False)
    with client(timeout) as http:
        downloader = FileDownloader(place, client=http, retry=policy)
        try:
            fetch_files(downloader, [item], label=f"Downloading {target.name}", stage=stage,
                        progress=progress or ignore_progress, cancel=cancel)
        except CancelledError:
            if sha256 is None:  # its partial is not kept (below), so do not promise a resume
                raise CancelledError() from None
            raise
        except httpx.HTTPError as exc:
            raise DownloadError(f"Could not download {url}: {exc or type(exc).__name__}.") from exc
        finally:
            if sha256 is None and not target.exists():  # an unpinned partial is never resumed
                part.unlink(missing_ok=True)
    return target
