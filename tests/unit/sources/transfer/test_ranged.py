"""Parallel ranged transfers against the loopback hub and its CDN, with faults: parts cut mid-way, one part
stalled, a server that ignores Range, a restart between parts, wrong bytes in one part."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llama_wrangler.errors import CancelledError, ChecksumMismatchError
from llama_wrangler.progress import CancelToken
from llama_wrangler.sources.hf_errors import HubWording
from llama_wrangler.sources.hf_files import resolve_hub_file
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.partials import ranges_path, written_bytes
from llama_wrangler.sources.transfer import BesideTarget, FileDownloader, RangedParts, RemoteFile, RetryPolicy
from llama_wrangler.sources.transfer.pieces import PieceMap
from llama_wrangler.sources.transfer.ranged import START_CONNECTIONS
from tests.support.fake_hub import FakeHub, Fault

REPO = "org/big-GGUF"
FILE = "big-Q4_K_M.gguf"
PIECE = 256 << 10
SIZE = 8 * PIECE + 12345  # a short last piece
DATA = os.urandom(SIZE)
SHA = hashlib.sha256(DATA).hexdigest()
FAST = RetryPolicy(retries=3, backoff_base_s=0.0)
WORDING = HubWording(REPO, file=FILE, revision="main")


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add_repo(REPO, {FILE: DATA})
        yield server


def remote_of(hub: FakeHub) -> RemoteFile:
    return resolve_hub_file(HubAccess(hub.endpoint), REPO, FILE, revision="main").remote


@pytest.fixture
def loaders() -> Iterator[list[FileDownloader]]:
    made: list[FileDownloader] = []
    yield made
    for loader in made:
        loader.close()


@pytest.fixture
def downloader(loaders: list[FileDownloader]) -> Callable[..., FileDownloader]:
    def make(*, parts: int = 4, stall_s: float = 20.0) -> FileDownloader:
        loader = FileDownloader(BesideTarget(), retry=FAST, ranged=RangedParts(parts, stall_s, piece_bytes=PIECE))
        loaders.append(loader)
        return loader

    return make


def cdn_gets(hub: FakeHub) -> list[str | None]:
    return [r.range for r in hub.requests("GET") if "/cdn/" in r.path]


def test_a_file_comes_in_ranged_parts_over_several_connections(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    target = tmp_path / FILE
    loader = downloader()
    loader.fetch(remote_of(hub), target, wording=WORDING)
    assert target.read_bytes() == DATA
    ranges = sorted(cdn_gets(hub), key=lambda r: int((r or "bytes=0").split("=")[1].split("-")[0]))
    assert ranges == [f"bytes={i * PIECE}-{min(SIZE, (i + 1) * PIECE) - 1}" for i in range(9)]
    assert hub.bytes_sent(FILE) == SIZE == loader.bytes_fetched  # every byte once
    assert not ranges_path(tmp_path / f"{FILE}.part").exists() and not (tmp_path / f"{FILE}.part").exists()


def test_slow_connections_bring_the_others_up_to_the_setting(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    # Every part comes at 1 MiB/s, far below what one connection should carry: like a capped CDN.
    hub.add_fault(FILE, *[Fault.slow(1 << 20)] * 9)
    loader = downloader(parts=8)
    loader.fetch(remote_of(hub), tmp_path / FILE, wording=WORDING)
    assert (tmp_path / FILE).read_bytes() == DATA
    assert loader.ranged is not None and loader.ranged.peak_connections == 8 > START_CONNECTIONS


def test_a_part_cut_mid_way_is_fetched_on_from_where_it_stopped(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    hub.add_fault(FILE, Fault.cut(1000), Fault.cut(50_000))
    downloader().fetch(remote_of(hub), tmp_path / FILE, wording=WORDING)
    assert (tmp_path / FILE).read_bytes() == DATA
    assert len(cdn_gets(hub)) == 9 + 2
    assert hub.bytes_sent(FILE) == SIZE  # the cut parts resumed at their byte: nothing fetched twice


def test_a_stalled_part_is_retried_alone_on_a_fresh_connection(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    hub.add_fault(FILE, Fault.stall(4096, seconds=3.0))
    downloader(stall_s=0.5).fetch(remote_of(hub), tmp_path / FILE, wording=WORDING)
    assert (tmp_path / FILE).read_bytes() == DATA
    gets = cdn_gets(hub)
    assert len(gets) == 9 + 1  # only the stalled part was asked for again
    starts = [int(r.split("=")[1].split("-")[0]) for r in gets if r is not None]
    retried = [start for start in starts if start % PIECE]
    assert len(retried) == 1  # ... from the byte it had reached, not from the piece's start


def test_a_server_that_ignores_range_falls_back_to_one_stream(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    hub.state.ignore_range = True
    downloader().fetch(remote_of(hub), tmp_path / FILE, wording=WORDING)
    assert (tmp_path / FILE).read_bytes() == DATA
    assert cdn_gets(hub)[-1] is None  # the whole file, over one connection
    assert not ranges_path(tmp_path / f"{FILE}.part").exists()


def test_a_restart_between_parts_fetches_again_under_one_percent(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    # The first connections are slow, so the cancel lands while pieces are half written.
    hub.add_fault(FILE, *[Fault.slow(1 << 20)] * 4)
    target, part = tmp_path / FILE, tmp_path / f"{FILE}.part"
    cancel = CancelToken()
    timer = threading.Timer(0.2, cancel.cancel)
    timer.start()
    first = downloader()
    with pytest.raises(CancelledError):
        first.fetch(remote_of(hub), target, wording=WORDING, cancel=cancel)
    timer.cancel()
    pieces = PieceMap.load(ranges_path(part), SIZE)
    assert pieces is not None and 0 < pieces.written < SIZE
    assert any(0 < done < PIECE for done in pieces.done)  # a piece stopped mid-way
    assert part.stat().st_size == SIZE  # pre-allocated
    on_disk = written_bytes(part, SIZE)

    second = downloader()  # a fresh downloader: what a restarted app has
    second.fetch(remote_of(hub), target, wording=WORDING)
    assert target.read_bytes() == DATA
    # Counted as received (the first run's slow server threads may still be counting what they sent).
    refetched = second.bytes_fetched - (SIZE - on_disk)
    assert refetched < on_disk / 100
    assert not ranges_path(part).exists()


def test_wrong_bytes_in_one_part_fail_the_checksum_and_keep_nothing(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    hub.add_fault(FILE, Fault.corrupt())
    with pytest.raises(ChecksumMismatchError, match="corrupt"):
        downloader().fetch(remote_of(hub), tmp_path / FILE, wording=WORDING)
    assert list(tmp_path.iterdir()) == []


def test_a_one_stream_partial_is_taken_up_by_the_parts(hub: FakeHub, tmp_path: Path,
        downloader: Callable[..., FileDownloader]) -> None:
    part = tmp_path / f"{FILE}.part"
    part.write_bytes(DATA[: 3 * PIECE + 100])  # left by an older version, over one stream
    downloader().fetch(remote_of(hub), tmp_path / FILE, wording=WORDING)
    assert (tmp_path / FILE).read_bytes() == DATA
    assert hub.bytes_sent(FILE) == SIZE - (3 * PIECE + 100)


def test_a_small_file_or_one_of_unknown_size_goes_over_one_stream(hub: FakeHub) -> None:
    ranged = RangedParts(8, piece_bytes=PIECE)
    assert ranged.suits(remote_of(hub))
    assert not ranged.suits(RemoteFile(url="http://127.0.0.1:9/x", size=None, name="x"))
    assert not ranged.suits(RemoteFile(url="http://127.0.0.1:9/x", size=PIECE, name="x"))
    assert not RangedParts(1).suits(remote_of(hub))
    assert RangedParts(8).piece_for(1 << 30) == 8 << 20 and RangedParts(8).piece_for(4 << 20) == 1 << 20
