"""Parallel ranged transfer: one file over several connections, the way Ollama pulls a blob and aria2c
users run ``-x16`` (Qt-free).

The partial is pre-allocated to the file's size and cut into pieces (:class:`~.pieces.PieceMap`) that the
connections take in file order, each with ``Range: bytes=<start>-<end>``; connections start at
:data:`START_CONNECTIONS` and all ``parts`` open once each is measured slower than
:data:`RAMP_BELOW_BYTES_PER_S`, which is when a host caps them. Each piece's progress is saved
beside the partial (``<id>.ranges``), so a restart resumes every piece where it stopped. A piece whose
connection stalls (no byte for ``stall_s``) or drops is retried alone, from the byte it reached; the others
go on. A server that answers a range with the whole file (200) does not do ranges:
:class:`RangesUnsupportedError` tells the downloader to fall back to one stream. The sha256 is computed while
the pieces arrive (:class:`~.prefix_hash.PrefixHasher`) and checked by the downloader before the file
takes its final name.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from llama_wrangler.errors import CancelledError
from llama_wrangler.progress import CancelToken
from llama_wrangler.sources.partials import ranges_path
from llama_wrangler.sources.transfer.meter import ByteMeter
from llama_wrangler.sources.transfer.pieces import PieceMap
from llama_wrangler.sources.transfer.prefix_hash import PrefixHasher
from llama_wrangler.sources.transfer.remote import RemoteFile
from llama_wrangler.sources.transfer.retry import RetryPolicy
from llama_wrangler.sources.transfer.status import SourceWording, TransientError
from llama_wrangler.sources.transfer.stream import answer_error, open_following_redirects

DEFAULT_PARTS = 8
MAX_PARTS = 16
DEFAULT_STALL_S = 20.0
PIECE_BYTES = 8 << 20  # small: the hashed prefix trails the newest byte by little, and the last pieces end together
MIN_PIECE_BYTES = 1 << 20  # below this a request's round trip costs more than a connection gains
# Connections start few; when each is slow (a capped CDN) all the others open at once, after the first
# full measuring window. A fast link (a LAN mirror, loopback) keeps the CPU for moving and hashing bytes
# instead of juggling threads (bench/download.py measures both).
START_CONNECTIONS = 2
RAMP_INTERVAL_S = 0.15
RAMP_BELOW_BYTES_PER_S = 64 << 20  # a connection slower than this: more of them will help


class RangesUnsupportedError(Exception):
    """The server sent the whole file for a byte range: it does not serve ranges."""


@dataclass
class RangedParts:
    """Fills a partial over ``parts`` connections. ``suits`` says whether a file is worth it (its size is
    known and spans more than one piece). ``piece_bytes`` None: a quarter of a connection's share of the
    file, between :data:`MIN_PIECE_BYTES` and :data:`PIECE_BYTES`."""

    parts: int = DEFAULT_PARTS
    stall_s: float = DEFAULT_STALL_S
    piece_bytes: int | None = None
    bytes_fetched: int = 0  # body bytes received over the network (benchmarks, tests)
    peak_connections: int = 0  # the most connections one transfer used (tests)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def suits(self, remote: RemoteFile) -> bool:
        return self.parts > 1 and remote.size is not None and remote.size > self.piece_for(remote.size)

    def piece_for(self, size: int) -> int:
        if self.piece_bytes is not None:
            return self.piece_bytes
        return min(PIECE_BYTES, max(MIN_PIECE_BYTES, size // (self.parts * 4)))

    def transfer(self, client: httpx.Client, remote: RemoteFile, part: Path, *, token: str | None,
                 wording: SourceWording, meter: ByteMeter, cancel: CancelToken, retry: RetryPolicy) -> Any:
        """Fill ``part`` with all of ``remote`` and return the sha256 state over it. On cancel or failure the
        partial and its piece map stay for a resume."""
        size = remote.size
        if size is None:
            raise ValueError("a ranged transfer needs the file's size")
        pieces = self._pieces(part, size)
        map_path = ranges_path(part)
        pieces.save(map_path, force=True)  # before the file grows: a full-size partial never lacks its map
        fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _preallocate(fd, size)
            meter.credit(pieces.written)
            hasher = PrefixHasher(part)
            hasher.advance(pieces.frontier)
            run = _Run(self, client, remote, fd, pieces, map_path, hasher, token, wording, meter, cancel, retry)
            try:
                run.go()
            except BaseException:
                hasher.stop()
                raise
            finally:
                pieces.save(map_path, force=True)
            return hasher.finish(size)
        finally:
            os.close(fd)

    def _pieces(self, part: Path, size: int) -> PieceMap:
        """The saved map, or one for what is on disk (a one-stream partial is a written prefix)."""
        saved = PieceMap.load(ranges_path(part), size)
        if saved is not None and part.exists():
            return saved
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        return PieceMap.from_prefix(size, self.piece_for(size), have)

    def count(self, received: int) -> None:
        with self._lock:
            self.bytes_fetched += received


def discard_ranges(part: Path) -> None:
    """Forget a ranged partial (its bytes and its map): the server will not do ranges after all."""
    part.unlink(missing_ok=True)
    ranges_path(part).unlink(missing_ok=True)


def _preallocate(fd: int, size: int) -> None:
    """Reserve the whole file now, so a full disk fails here and not in the middle."""
    if os.fstat(fd).st_size >= size:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except (OSError, AttributeError):  # a filesystem (or OS) without it: a sparse file of the right size
        os.ftruncate(fd, size)


class _Run:
    """One ranged transfer in progress: the connections, their shared state, the first failure."""

    def __init__(self, owner: RangedParts, client: httpx.Client, remote: RemoteFile, fd: int, pieces: PieceMap,
                 map_path: Path, hasher: PrefixHasher, token: str | None, wording: SourceWording,
                 meter: ByteMeter, cancel: CancelToken, retry: RetryPolicy) -> None:
        self.owner, self.client, self.remote, self.fd = owner, client, remote, fd
        self.pieces, self.map_path, self.hasher = pieces, map_path, hasher
        self.token, self.wording, self.meter, self.cancel, self.retry = token, wording, meter, cancel, retry
        self.stop = CancelToken()  # set by the user's cancel or by the first failure
        self.failure: BaseException | None = None
        self._lock = threading.Lock()
        self.url = remote.url  # after the first answer: the URL the redirects led to (a CDN link)

    def go(self) -> None:
        unhook = self.cancel.on_cancel(self.stop.cancel)
        limit = min(self.owner.parts, len(self.pieces.done))
        threads: list[threading.Thread] = []

        def launch(count: int) -> None:
            for _ in range(min(count, limit - len(threads))):
                thread = threading.Thread(target=self._connection, name=f"range-{len(threads)}", daemon=True)
                threads.append(thread)
                thread.start()
            self.owner.peak_connections = max(self.owner.peak_connections, len(threads))

        try:
            launch(START_CONNECTIONS)
            since: float | None = None  # the first window (connecting, redirects) is not measured
            fetched = 0
            while alive := [thread for thread in threads if thread.is_alive()]:
                alive[0].join(RAMP_INTERVAL_S)
                now, total = time.monotonic(), self.owner.bytes_fetched
                if (since is not None and now > since and len(threads) < limit and not self.stop.cancelled
                        and self.pieces.pieces_left):
                    each = (total - fetched) / (now - since) / max(1, len(alive))
                    if each < RAMP_BELOW_BYTES_PER_S:
                        launch(limit)  # a capped host: every connection the settings allow, now
                since, fetched = now, total
        finally:
            unhook()
        if self.failure is not None:
            raise self.failure
        if self.cancel.cancelled or not self.pieces.complete:
            raise CancelledError("Cancelled; the partial download was kept and will resume.")

    def _connection(self) -> None:
        try:
            while not self.stop.cancelled and (index := self.pieces.take()) is not None:
                self._piece(index)
        except BaseException as exc:  # the first failure stops every connection and is raised by go()
            with self._lock:
                if self.failure is None and not isinstance(exc, CancelledError):
                    self.failure = exc
            self.stop.cancel()

    def _piece(self, index: int) -> None:
        """Fetch what piece ``index`` still lacks, retrying it alone when its connection drops or stalls."""
        start, length = self.pieces.bounds(index)
        attempt = 0
        while (done := self.pieces.done[index]) < length:
            if self.stop.cancelled:
                return
            try:
                self._get(index, start + done, start + length - 1)
            except (httpx.TransportError, TransientError) as exc:
                attempt = 0 if self.pieces.done[index] > done else attempt
                attempt += 1
                if self.stop.wait(self.retry.wait_after(exc, attempt, self.wording, self.remote.name,
                                                        what=" of one part")):
                    return

    def _get(self, index: int, first: int, last: int) -> None:
        headers = {"Accept-Encoding": "identity", "Range": f"bytes={first}-{last}"}
        remote = replace(self.remote, url=self.url)
        timeout = httpx.Timeout(self.owner.stall_s, connect=min(self.owner.stall_s, 30.0))
        with open_following_redirects(self.client, remote, headers, self.token, timeout=timeout) as response:
            status = response.status_code
            if status == 200:
                raise RangesUnsupportedError()
            if status != 206:
                raise answer_error(response, self.remote, self.wording)
            _check_start(response.headers.get("Content-Range"), first, self.remote, self.wording)
            self.url = str(response.url)
            position = first
            for chunk in response.iter_raw():
                if position + len(chunk) > last + 1:
                    raise TransientError(f"{self.wording.server_title} sent more than the range asked for.")
                os.pwrite(self.fd, chunk, position)
                position += len(chunk)
                self.owner.count(len(chunk))
                self.hasher.advance(self.pieces.wrote(index, len(chunk)))
                with self._lock:
                    self.meter.add(len(chunk))
                self.pieces.save(self.map_path)
                if self.stop.cancelled:
                    return


def _check_start(value: str | None, first: int, remote: RemoteFile, wording: SourceWording) -> None:
    """A part must start at the byte asked for; anything else is retried."""
    with contextlib.suppress(ValueError, IndexError):
        if value is not None and int(value.split()[1].split("-")[0]) == first:
            return
    raise TransientError(f"{wording.server_title} answered a range of {remote.name} at the wrong place.")
