"""Fetch a set of files — one model's shards, a conversion snapshot, one runtime archive — with the free-disk
check first (Qt-free). Every source's downloads go through :func:`fetch_files`.

In a set of several files, each file verified so far leaves a ``<id>.done`` marker beside its partial that
names its target, so an interrupted run does not fetch it again; the caller removes the markers
(:func:`forget_done`) once it has used the files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.disk import check_disk_space, same_filesystem
from llama_wrangler.sources.transfer.downloader import FileDownloader
from llama_wrangler.sources.transfer.meter import ByteMeter
from llama_wrangler.sources.transfer.remote import PartialPlace, RemoteFile
from llama_wrangler.sources.transfer.status import SourceWording

DONE_SUFFIX = ".done"


@dataclass(frozen=True)
class FetchItem:
    """One file to fetch: what (``remote``), where it goes (``target``), how its source words failures,
    what its partial's sidecar says about it (``describe``) and how to re-ask for an expired link."""

    remote: RemoteFile
    target: Path
    wording: SourceWording
    describe: Mapping[str, object] = field(default_factory=dict)
    refresh: Callable[[], RemoteFile] | None = None


def fetch_files(downloader: FileDownloader, items: Sequence[FetchItem], *, label: str,
                progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
                stage: str = "download") -> list[Path]:
    """Fetch every item not already in place, one after another, into its target; returns the targets.

    Checks first that the partials' folder has room for what is still to come (and the targets' folder,
    when the finished files are copied there from another filesystem). Progress spans the whole set.
    """
    cancel = cancel or CancelToken()
    place = downloader.place
    marked = len(items) > 1
    done = [marked and is_done(place, item) for item in items]
    sizes = [item.remote.size for item in items]
    total = None if any(size is None for size in sizes) else sum(size or 0 for size in sizes)
    done_bytes = sum(item.remote.size or 0 for item, finished in zip(items, done, strict=True) if finished)
    if total is not None and items:
        on_disk = sum(partial_bytes(place, item) for item, finished in zip(items, done, strict=True)
                      if not finished)
        check_room(place, items[0], total - done_bytes - on_disk, on_disk)
    meter = ByteMeter(progress, total, done_bytes, label, stage=stage)
    for item, finished in zip(items, done, strict=True):
        if finished:
            continue
        cancel.raise_if_cancelled()
        downloader.fetch(item.remote, item.target, wording=item.wording, meter=meter, cancel=cancel,
                         describe=item.describe, refresh=item.refresh)
        if marked:
            _marker(place, item).write_text(str(item.target), encoding="utf-8")
    return [item.target for item in items]


def check_room(place: PartialPlace, item: FetchItem, remaining: int, on_disk: int) -> None:
    """Room for ``remaining`` bytes beside the partials; and in the targets' folder for the whole files
    (``remaining + on_disk``) when they are copied there rather than renamed."""
    part, _sidecar = place.paths_for(item.remote, item.target)
    check_disk_space(part.parent, remaining)
    if not same_filesystem(part.parent, item.target.parent):
        check_disk_space(item.target.parent, remaining + on_disk)


def partial_bytes(place: PartialPlace, item: FetchItem) -> int:
    """Bytes of ``item`` already in its partial (none: 0), at most its size."""
    part, _sidecar = place.paths_for(item.remote, item.target)
    try:
        have = part.stat().st_size
    except OSError:
        return 0
    return min(have, item.remote.size) if item.remote.size is not None else have


def is_done(place: PartialPlace, item: FetchItem) -> bool:
    """A file of a set that an interrupted run already fetched and verified (its marker names these exact
    bytes at this target); any other file at the target is fetched again."""
    try:
        return (_marker(place, item).read_text(encoding="utf-8") == str(item.target)
                and item.target.is_file() and item.target.stat().st_size == item.remote.size)
    except OSError:
        return False


def forget_done(place: PartialPlace, items: Sequence[FetchItem]) -> None:
    """Remove the set's markers (the files are in use now)."""
    for item in items:
        _marker(place, item).unlink(missing_ok=True)


def _marker(place: PartialPlace, item: FetchItem) -> Path:
    part, _sidecar = place.paths_for(item.remote, item.target)
    return part.with_suffix(DONE_SUFFIX)
