"""Resumable, verified transfer of one file (Qt-free): the per-file logic every source shares.

The bytes go to a partial (:class:`~llama_wrangler.sources.transfer.remote.PartialPlace`) that never has the
final name; a restart picks them up (their sha256 is re-derived from disk). A file of known size that spans
several pieces comes over several connections (:class:`~.ranged.RangedParts`); the rest, and servers that do
not serve ranges, over one (:class:`~.stream.SingleStream`). Transient failures — dropped
connections, 5xx, 429 with its ``Retry-After`` — are retried with exponential backoff; progress resets the
count. The sha256 (or the Hub's git blob id) must match before the file is renamed into place; on a
mismatch the partial is deleted and nothing is kept.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from llama_wrangler.atomic import write_json_atomic
from llama_wrangler.errors import CancelledError, ChecksumMismatchError
from llama_wrangler.progress import CancelToken, ignore_progress
from llama_wrangler.sources.partials import ranges_path
from llama_wrangler.sources.transfer.client import open_client
from llama_wrangler.sources.transfer.meter import ByteMeter
from llama_wrangler.sources.transfer.ranged import RangedParts, RangesUnsupportedError, discard_ranges
from llama_wrangler.sources.transfer.remote import PartialPlace, RemoteFile
from llama_wrangler.sources.transfer.retry import RetryPolicy
from llama_wrangler.sources.transfer.status import SourceWording, TransientError, status_error
from llama_wrangler.sources.transfer.stream import ExpiredLinkError, FillStrategy, SingleStream
from llama_wrangler.sources.transfer.verify import HASH_BLOCK, git_blob_matches

log = logging.getLogger(__name__)

class FileDownloader:
    """Moves one file's bytes into place: partial, resume, retry, verify, rename.

    ``token`` goes only to each file's ``auth_origin`` (see :mod:`.auth`); ``strategy`` fills the partial
    (:class:`~.stream.SingleStream`: one ranged GET at a time) where ``ranged`` (parts over several
    connections; None: always one stream) does not suit the file. ``refresh`` (per fetch) re-asks the source
    for the file's URL; it is used once when a CDN link expired (401/403 from a host that is not the auth
    origin).
    """

    def __init__(self, place: PartialPlace, *, token: str | None = None, retry: RetryPolicy | None = None,
                 client: httpx.Client | None = None, strategy: FillStrategy | None = None,
                 ranged: RangedParts | None = None) -> None:
        self.place = place
        self.token = token
        self.retry = retry or RetryPolicy()
        self.strategy = strategy or SingleStream()
        self.ranged = ranged
        self._client = client

    @property
    def bytes_fetched(self) -> int:
        """Body bytes received over the network by this downloader (benchmarks)."""
        ranged = self.ranged.bytes_fetched if self.ranged is not None else 0
        return int(getattr(self.strategy, "bytes_fetched", 0)) + ranged

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = open_client()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def fetch(self, remote: RemoteFile, target: Path, *, wording: SourceWording, meter: ByteMeter | None = None,
              cancel: CancelToken | None = None, describe: Mapping[str, object] | None = None,
              refresh: Callable[[], RemoteFile] | None = None) -> Path:
        """Download ``remote`` to its partial, verify it, and rename it to ``target``. Returns ``target``.

        ``describe`` goes into the partial's sidecar (what the bytes are, for offering them again). Cancel
        (or an error) keeps the partial and its sidecar for a later resume; a checksum mismatch deletes them.
        """
        cancel = cancel or CancelToken()
        part, sidecar = self.place.paths_for(remote, target)
        part.parent.mkdir(parents=True, exist_ok=True)
        if sidecar is not None:
            write_json_atomic(sidecar, {"version": 1, "id": remote.download_id, "size": remote.size,
                                        "sha256": remote.sha256, "target": str(target), **(describe or {})})
        meter = meter or ByteMeter(ignore_progress, remote.size, 0, remote.name)
        hasher = self._fill_ranged(remote, part, wording, meter, cancel, refresh)
        if hasher is None:
            hasher = self._resume_hash(part, remote.size, meter, cancel)
            hasher = self._transfer(remote, part, hasher, wording, meter, cancel, refresh)
        digest = hasher.hexdigest()
        ranges_path(part).unlink(missing_ok=True)
        if remote.sha256 is not None and digest != remote.sha256.lower():
            _discard(part, sidecar)
            raise ChecksumMismatchError(wording.corrupt(digest, remote.sha256))
        if remote.sha256 is None and not git_blob_matches(part, remote.git_blob):
            _discard(part, sidecar)
            raise ChecksumMismatchError(wording.blob_mismatch())
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            part.replace(target)
        except OSError:
            shutil.move(part, target)  # partials and target on different filesystems
        if sidecar is not None:
            sidecar.unlink(missing_ok=True)
        return target

    def _fill_ranged(self, remote: RemoteFile, part: Path, wording: SourceWording, meter: ByteMeter,
                     cancel: CancelToken, refresh: Callable[[], RemoteFile] | None) -> Any | None:
        """The sha256 state after a ranged transfer; None when the file goes over one stream instead (the
        file does not suit ranges, or the server does not serve them)."""
        if self.ranged is None or not self.ranged.suits(remote):
            if ranges_path(part).exists():
                discard_ranges(part)  # pre-allocated pieces are no one-stream partial
            return None
        credited = meter.done
        try:
            return self.ranged.transfer(self._http(), remote, part, token=self.token, wording=wording,
                                        meter=meter, cancel=cancel, retry=self.retry)
        except RangesUnsupportedError:
            log.info("%s does not serve byte ranges; downloading %s over one connection", wording.server,
                     remote.name)
        except ExpiredLinkError as expired:
            if refresh is None:
                raise status_error(expired.status, wording) from None
            meter.credit(credited - meter.done)
            return self.ranged.transfer(self._http(), refresh(), part, token=self.token, wording=wording,
                                        meter=meter, cancel=cancel, retry=self.retry)
        meter.credit(credited - meter.done)
        discard_ranges(part)
        return None

    def _resume_hash(self, part: Path, size: int | None, meter: ByteMeter,
                     cancel: CancelToken | None = None) -> Any:
        """A sha256 state over the bytes already on disk (a partial longer than the file restarts)."""
        hasher = hashlib.sha256()
        if not part.exists():
            return hasher
        have = part.stat().st_size
        if size is not None and have > size:
            part.unlink()
            return hasher
        # Re-reading a big partial takes a while: say so, rather than sit at 0 %.
        hashed = 0
        with part.open("rb") as handle:
            while block := handle.read(HASH_BLOCK):
                hasher.update(block)
                hashed += len(block)
                meter.note("resume", hashed, have, "Checking the part downloaded before")
                if cancel is not None:
                    cancel.raise_if_cancelled()
        meter.credit(have)
        return hasher

    def _transfer(self, remote: RemoteFile, part: Path, hasher: Any, wording: SourceWording, meter: ByteMeter,
                  cancel: CancelToken, refresh: Callable[[], RemoteFile] | None) -> Any:
        attempt = 0
        refreshed = False
        while True:
            cancel.raise_if_cancelled()
            have = part.stat().st_size if part.exists() else 0
            if have == remote.size:
                return hasher
            try:
                filled = self.strategy.fill(self._http(), remote, part, have, hasher, token=self.token,
                                            wording=wording, meter=meter, cancel=cancel)
                hasher = filled.hasher
                if remote.size is None:
                    if filled.total is None:
                        return hasher  # the server never said how big: the end of its stream is the end
                    remote = remote.with_size(filled.total)
                if filled.have == remote.size:
                    return hasher
                if filled.have > have:
                    attempt = 0  # progress was made: a flaky link gets fresh retries
                raise TransientError(f"The connection closed early while downloading {remote.name}.")
            except (httpx.TransportError, TransientError) as exc:
                attempt += 1
                delay = self.retry.wait_after(exc, attempt, wording, remote.name)
                log.info("retrying %s in %.1fs (%s)", remote.name, delay, exc)
                if cancel.wait(delay):
                    raise CancelledError() from None
            except ExpiredLinkError as expired:
                if refresh is None or refreshed:
                    raise status_error(expired.status, wording) from None
                refreshed = True
                remote = refresh()


def _discard(part: Path, sidecar: Path | None) -> None:
    part.unlink(missing_ok=True)
    if sidecar is not None:
        sidecar.unlink(missing_ok=True)
