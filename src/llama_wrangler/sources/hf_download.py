"""Resumable, verified file transfers from the Hub — and, through the same :class:`FileDownloader`, from
the Ollama registry (Qt-free).

huggingface_hub gives us the file's URL and metadata (``get_hf_file_metadata``: size, LFS sha256, commit);
we move the bytes ourselves with ranged GETs because its own download cannot resume across app restarts.

On disk, while a transfer is unfinished::

    cache/downloads/<id>.part   the bytes so far (never a final name)
    cache/downloads/<id>.json   what they are: repo, revision, commit, file, size, sha256, target

so :func:`list_partials` can offer them again after a restart and a new transfer of the same file picks the
bytes up. The sha256 is computed while streaming (re-derived from the partial's bytes on resume) and must
match the Hub's LFS checksum before the file is renamed into the models folder; on a mismatch the partial is
deleted and nothing enters the library.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpcore
import httpx
from huggingface_hub import get_hf_file_metadata, hf_hub_url

from llama_wrangler.atomic import write_json_atomic
from llama_wrangler.errors import CancelledError, ChecksumMismatchError, DownloadError, WranglerError
from llama_wrangler.paths import AppPaths, confined
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.sources.hf_errors import TransientHubError, hub_errors, status_error
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.partials import discard_partial, part_paths

log = logging.getLogger(__name__)

CHUNK = 1 << 20
PROGRESS_INTERVAL_S = 0.1
MAX_RETRY_AFTER_S = 120.0
GIT_BLOB_CHECK_MAX = 64 * 1024 * 1024  # non-LFS files are small; never re-read a big one
_SHA256_HEX = frozenset("0123456789abcdef")

# httpcore reads a response 64 KiB at a time; every read goes through h11's parser and a few copies, which
# caps a loopback transfer at about a third of curl's speed. 1 MiB reads reach curl's (bench/download.py).
# A class attribute, so this applies to every httpx client in the process; for small responses it changes
# nothing (a read returns what has arrived).
if getattr(httpcore.HTTP11Connection, "READ_NUM_BYTES", 0) < CHUNK:
    httpcore.HTTP11Connection.READ_NUM_BYTES = CHUNK


@dataclass(frozen=True)
class RemoteFile:
    """A file on the Hub, as huggingface_hub's metadata describes it."""

    repo_id: str
    revision: str  # what the user asked for (branch, tag, commit)
    commit: str
    path: str  # path inside the repo
    url: str  # where the bytes are (the Hub, or the CDN it redirects to)
    size: int
    sha256: str | None  # LFS checksum; None for small non-LFS files (then the etag is a git oid)
    etag: str | None = None
    publisher: str = "the Hub"  # who published the bytes and checksum, for messages ("the Ollama registry")

    @property
    def download_id(self) -> str:
        """Stable across restarts and revisions: the same bytes of the same file share one partial."""
        key = f"{self.repo_id}\n{self.path}\n{self.sha256 or self.etag or self.commit}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]


def resolve_remote_file(access: HubAccess, repo_id: str, path: str, *, revision: str,
                        commit: str | None = None, expected_sha256: str | None = None) -> RemoteFile:
    """Ask the Hub (through huggingface_hub) where ``path`` is and what it should hash to."""
    pinned = commit or revision
    url = hf_hub_url(repo_id, path, revision=pinned, endpoint=access.endpoint)
    with hub_errors(repo_id, file=path, revision=revision):
        meta = get_hf_file_metadata(url, token=access.token or False, endpoint=access.endpoint,
                                    retry_on_errors=True)
    etag = (meta.etag or "").strip('"') or None
    sha256 = expected_sha256
    if sha256 is None and etag and len(etag) == 64 and set(etag) <= _SHA256_HEX:
        sha256 = etag  # an LFS file's etag is its sha256
    if meta.size is None:
        raise DownloadError(f"The Hub did not say how big {path} is; cannot download it safely.")
    return RemoteFile(repo_id=repo_id, revision=revision, commit=meta.commit_hash or pinned, path=path,
                      url=meta.location, size=meta.size, sha256=sha256, etag=etag)


class ByteMeter:
    """Throttled byte progress with a speed over the last few seconds (for an honest ETA)."""

    def __init__(self, progress: ProgressCallback, total: int, done: int, label: str) -> None:
        self._progress = progress
        self.total = total
        self.done = done
        self._label = label
        self._samples: list[tuple[float, int]] = [(time.monotonic(), done)]
        self._last_report = 0.0

    def credit(self, count: int) -> None:
        """Count bytes that were not transferred now (already on disk, or thrown away): they move the
        bar but not the speed."""
        self.done += count
        self._samples = [(t, d + count) for t, d in self._samples]
        self.add(0, force=True)

    def note(self, stage: str, done: int, total: int, message: str) -> None:
        """A throttled report of another stage (re-hashing a partial before resuming)."""
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S or done == total:
            self._last_report = now
            self._progress(Progress(stage, done, total, message))

    def add(self, count: int, *, force: bool = False) -> None:
        self.done += count
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_INTERVAL_S:
            return
        self._last_report = now
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 5.0:
            self._samples.pop(0)
        first_t, first_done = self._samples[0]
        elapsed = now - first_t
        speed = (self.done - first_done) / elapsed if elapsed > 0 else None
        self._progress(Progress("download", self.done, self.total, self._label, speed or None))


class StatusErrors(Protocol):
    """Turns an HTTP error status on a file into our error; each source maps its own statuses (the Hub's in
    :func:`hub_status_error`). 5xx/429 must come back as :class:`TransientHubError` to be retried."""

    def __call__(self, status: int, remote: RemoteFile, headers: httpx.Headers) -> WranglerError: ...


def hub_status_error(status: int, remote: RemoteFile, headers: httpx.Headers) -> WranglerError:
    return status_error(status, repo_id=remote.repo_id, file=remote.path, revision=remote.revision,
                        error_code=headers.get("X-Error-Code"), retry_after=_float(headers.get("Retry-After")))


class FileDownloader:
    """Moves one file's bytes with ranged GETs, retrying transient failures with exponential backoff.

    ``refresh`` re-asks the Hub for the file's URL; it is used once when a CDN link expired (401/403).
    ``access`` says which origin may see the token (redirects to any other host get none); ``errors`` maps
    the source's HTTP statuses to our errors.
    """

    def __init__(self, paths: AppPaths, access: HubAccess, *, retries: int = 5, backoff_base_s: float = 0.5,
                 backoff_max_s: float = 30.0, client: httpx.Client | None = None,
                 chunk_size: int = CHUNK, errors: StatusErrors = hub_status_error) -> None:
        self.paths = paths
        self.access = access
        self.errors = errors
        self.retries = retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.chunk_size = chunk_size
        self._client = client
        self.bytes_fetched = 0  # body bytes received over the network by this downloader (benchmarks)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(follow_redirects=True,
                                        timeout=httpx.Timeout(30.0, read=60.0))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def fetch(self, remote: RemoteFile, target: Path, *, meter: ByteMeter | None = None,
              cancel: CancelToken | None = None, sidecar: dict[str, Any] | None = None,
              refresh: Callable[[], RemoteFile] | None = None) -> Path:
        """Download ``remote`` to its partial, verify it, and rename it to ``target``. Returns ``target``.

        Cancel (or an error) keeps the partial and its sidecar for a later resume; a checksum mismatch
        deletes them.
        """
        cancel = cancel or CancelToken()
        part, meta = part_paths(self.paths, remote.download_id)
        part.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(meta, {
            "version": 1, "id": remote.download_id, "repo_id": remote.repo_id, "revision": remote.revision,
            "commit": remote.commit, "file": remote.path, "size": remote.size, "sha256": remote.sha256,
            "etag": remote.etag, "target": str(target),
            **(sidecar or {}),
        })
        meter = meter or ByteMeter(ignore_progress, remote.size, 0, remote.path)
        hasher = self._resume_hash(part, remote.size, meter, cancel)
        hasher = self._transfer(remote, part, hasher, meter, cancel, refresh)
        digest = hasher.hexdigest()
        if remote.sha256 is not None and digest != remote.sha256.lower():
            discard_partial(self.paths, remote.download_id)
            raise ChecksumMismatchError(
                f"{remote.path} from {remote.repo_id} is corrupt: its sha256 is {digest[:12]}…, "
                f"{remote.publisher} published {remote.sha256[:12]}…. The partial download was deleted; "
                "nothing was added.")
        if remote.sha256 is None and not _git_blob_matches(part, remote.etag):
            discard_partial(self.paths, remote.download_id)
            raise ChecksumMismatchError(
                f"{remote.path} from {remote.repo_id} is corrupt: it does not match the Hub's git object id. "
                "The partial download was deleted; nothing was added.")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            part.replace(target)
        except OSError:
            shutil.move(part, target)  # cache and models on different filesystems
        meta.unlink(missing_ok=True)
        return target

    def _resume_hash(self, part: Path, size: int, meter: ByteMeter,
                     cancel: CancelToken | None = None) -> Any:
        """A sha256 state over the bytes already on disk (a partial longer than the file restarts)."""
        hasher = hashlib.sha256()
        if not part.exists():
            return hasher
        have = part.stat().st_size
        if have > size:
            part.unlink()
            return hasher
        # Re-reading a big partial takes a while: say so, rather than sit at 0 %.
        hashed = 0
        with part.open("rb") as handle:
            while block := handle.read(8 * CHUNK):
                hasher.update(block)
                hashed += len(block)
                meter.note("resume", hashed, have, "Checking the part downloaded before")
                if cancel is not None:
                    cancel.raise_if_cancelled()
        meter.credit(have)
        return hasher

    def _transfer(self, remote: RemoteFile, part: Path, hasher: Any, meter: ByteMeter, cancel: CancelToken,
                  refresh: Callable[[], RemoteFile] | None) -> Any:
        attempt = 0
        refreshed = False
        while True:
            cancel.raise_if_cancelled()
            have = part.stat().st_size if part.exists() else 0
            if have == remote.size:
                return hasher
            try:
                before = have
                have, hasher = self._one_request(remote, part, have, hasher, meter, cancel)
                if have == remote.size:
                    return hasher
                if have > before:
                    attempt = 0  # progress was made: a flaky link gets fresh retries
                raise TransientHubError(f"The connection closed early while downloading {remote.path}.")
            except (httpx.TransportError, TransientHubError) as exc:
                attempt += 1
                if attempt > self.retries:
                    raise DownloadError(f"Gave up downloading {remote.path} after {self.retries} retries: "
                                        f"{exc}", hint="Run the download again to resume it.") from exc
                retry_after = exc.retry_after if isinstance(exc, TransientHubError) else None
                # Retry-After is honoured, within reason: a server asking for an hour gets two minutes.
                delay = min(retry_after, MAX_RETRY_AFTER_S) if retry_after is not None else min(
                    self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
                log.info("retrying %s in %.1fs (%s)", remote.path, delay, exc)
                if cancel.wait(delay):
                    raise CancelledError() from None
            except _ExpiredLinkError:
                if refresh is None or refreshed:
                    raise self.errors(403, remote, httpx.Headers()) from None
                refreshed = True
                remote = refresh()

    def _one_request(self, remote: RemoteFile, part: Path, have: int, hasher: Any, meter: ByteMeter,
                     cancel: CancelToken) -> tuple[int, Any]:
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        if _same_origin(remote.url, self.access.endpoint):
            headers.update(self.access.auth_headers())  # the token never leaves the Hub for a CDN
        with self._http().stream("GET", remote.url, headers=headers) as response:
            status = response.status_code
            if status == 416 or (status == 200 and have):
                # The server will not continue where we are: start the file again.
                part.unlink(missing_ok=True)
                meter.credit(-have)
                hasher, have = hashlib.sha256(), 0
                if status == 416:
                    return have, hasher
            elif status == 206:
                _check_content_range(response.headers.get("Content-Range"), have, remote)
            elif status != 200:
                if status in (401, 403) and not _same_origin(remote.url, self.access.endpoint):
                    raise _ExpiredLinkError()
                raise self.errors(status, remote, response.headers)
            hashing = _BackgroundHash(hasher)
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
                        if have > remote.size:
                            raise DownloadError(f"{_capital(remote.publisher)} sent more bytes than "
                                                f"{remote.path} has; "
                                                "the partial was kept.")
                        if cancel.cancelled:
                            raise CancelledError("Cancelled; the partial download was kept and will resume.")
            finally:
                hasher = hashing.finish()  # the hash covers exactly the bytes written, whatever happened
        meter.add(0, force=True)
        return have, hasher


class _BackgroundHash:
    """sha256 on a second thread, so hashing overlaps the network and disk work of the download loop
    (hashlib releases the GIL for large updates). Bounded queue: at most ~32 chunks are in flight."""

    def __init__(self, state: Any) -> None:
        self._state = state
        self._error: Exception | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failed = False
        while (chunk := self._queue.get()) is not None:
            if failed:
                continue  # keep draining so the download loop never blocks on a full queue
            try:
                self._state.update(chunk)
            except Exception as exc:  # hashlib does not fail on bytes; if it ever did, say so at the end
                self._error = exc
                failed = True

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self) -> Any:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise DownloadError(f"Could not compute the download's checksum: {self._error}")
        return self._state


class _ExpiredLinkError(Exception):
    """A CDN refused a signed link (it expired): ask the Hub for a new one."""


def _git_blob_matches(part: Path, etag: str | None) -> bool:
    """Small files outside LFS have no sha256 on the Hub; their etag is the git blob id,
    ``sha1(b"blob <size>\\0" + content)``. True when it matches (or there is no such etag to check)."""
    if not etag or len(etag) != 40 or not set(etag) <= _SHA256_HEX:
        return True
    size = part.stat().st_size
    if size > GIT_BLOB_CHECK_MAX:
        return True
    digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    digest.update(part.read_bytes())
    return digest.hexdigest() == etag


def _check_content_range(value: str | None, have: int, remote: RemoteFile) -> None:
    if value is None:
        return
    with contextlib.suppress(ValueError, IndexError):
        start = int(value.split()[1].split("-")[0])
        if start != have:
            raise TransientHubError(f"{_capital(remote.publisher)} resumed {remote.path} at byte {start}, "
                                    f"not {have}.")


def _same_origin(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def target_path(models_dir: Path, repo_id: str, file: str) -> Path:
    """Where a repo file lands: ``models/<org>/<repo>/<path in repo>``; hostile names are refused."""
    return confined(models_dir, f"{repo_id}/{file}")

