"""Download one file over HTTP(S) with progress, cancel and an optional sha256 check.

Used for the llama.cpp source archive, the PyPI sdist and prebuilt release zips. The bytes go to a
``.part`` file that only gets its final name once complete (and verified).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from pathlib import Path

import httpx

from llama_wrangler.errors import ChecksumMismatchError, DownloadError
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
USER_AGENT = "llama-wrangler"


def client(timeout: float | None = None) -> httpx.Client:
    read = READ_TIMEOUT_S if timeout is None else timeout
    return httpx.Client(timeout=httpx.Timeout(read, connect=min(CONNECT_TIMEOUT_S, read)),
                        follow_redirects=True, headers={"User-Agent": USER_AGENT})


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
        raise DownloadError(f"Could not reach {url}: {exc or type(exc).__name__}.") from exc
    except ValueError as exc:
        raise DownloadError(f"{url} did not return JSON.") from exc


def download(url: str, target: Path, *, sha256: str | None = None, stage: str = "download",
             progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
             timeout: float | None = None) -> Path:
    """Stream ``url`` into ``target``. Raises :class:`DownloadError` / :class:`ChecksumMismatchError`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with client(timeout) as http, http.stream("GET", url) as response:
            if response.status_code >= 400:
                raise DownloadError(f"{url} answered HTTP {response.status_code}.")
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            started = time.monotonic()
            with part.open("wb") as out:
                for chunk in response.iter_bytes(1024 * 256):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        elapsed = max(time.monotonic() - started, 1e-6)
                        progress(Progress(stage, done, total, f"Downloading {target.name}",
                                          bytes_per_second=done / elapsed))
        if total is not None and done != total:
            raise DownloadError(f"The download of {url} stopped early ({done} of {total} bytes).")
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise ChecksumMismatchError(
                f"{target.name} does not match its pinned checksum (got {digest.hexdigest()}, "
                f"expected {sha256}); it was not used.")
        part.replace(target)
    except httpx.HTTPError as exc:
        raise DownloadError(f"Could not download {url}: {exc or type(exc).__name__}.") from exc
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return target


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
