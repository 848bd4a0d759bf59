"""What a transfer moves (:class:`RemoteFile`) and where its unfinished bytes wait (:class:`PartialPlace`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from llama_wrangler.paths import AppPaths
from llama_wrangler.sources.partials import part_paths


@dataclass(frozen=True)
class RemoteFile:
    """A file behind a URL, as the source describes it.

    ``size`` None: unknown until the server answers (then the response's length is trusted). ``sha256`` is
    checked before the file gets its final name; ``git_blob`` (a git object id, for the Hub's small files
    outside LFS) is checked when there is no sha256. ``auth_origin`` is the one origin that may receive the
    downloader's token (see :mod:`.auth`); None sends it nowhere. ``key`` names these bytes across restarts
    (the same key resumes the same partial); ``name`` is how messages refer to the file.
    """

    url: str
    size: int | None
    name: str
    sha256: str | None = None
    git_blob: str | None = None
    auth_origin: str | None = None
    key: str = ""

    @property
    def download_id(self) -> str:
        """Stable across restarts: the same bytes share one partial."""
        return hashlib.sha256((self.key or self.url).encode()).hexdigest()[:24]

    def with_size(self, size: int) -> RemoteFile:
        return replace(self, size=size)


class PartialPlace(Protocol):
    """Where a transfer keeps its bytes until they are verified: the ``.part`` file and, optionally, a
    sidecar saying what they are (so :func:`~llama_wrangler.sources.partials.list_partials` can offer
    them again after a restart)."""

    def paths_for(self, remote: RemoteFile, target: Path) -> tuple[Path, Path | None]: ...


@dataclass(frozen=True)
class DownloadsFolder:
    """``cache/downloads/<id>.part`` beside ``<id>.json``: model downloads, resumable after a restart."""

    paths: AppPaths

    def paths_for(self, remote: RemoteFile, target: Path) -> tuple[Path, Path | None]:
        return part_paths(self.paths, remote.download_id)


@dataclass(frozen=True)
class BesideTarget:
    """``<target>.part``, no sidecar: downloads that are not models (runtime archives)."""

    def paths_for(self, remote: RemoteFile, target: Path) -> tuple[Path, Path | None]:
        return target.with_name(target.name + ".part"), None
