"""Unfinished downloads on disk: ``cache/downloads/<id>.part`` (the bytes) beside ``<id>.json`` (what they
are), so a transfer can resume after a restart and the app can offer it again on start."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from llama_wrangler.paths import AppPaths

PART_SUFFIX = ".part"
META_SUFFIX = ".json"
RANGES_SUFFIX = ".ranges"  # a ranged download's piece map (sources/transfer/pieces.py writes it)


@dataclass(frozen=True)
class PartialDownload:
    """An unfinished transfer found on disk (see :func:`list_partials`)."""

    download_id: str
    repo_id: str
    revision: str
    commit: str
    file: str
    size: int
    sha256: str | None
    target: str  # where the finished file goes (absolute)
    bytes_on_disk: int
    quant: str = ""
    group: tuple[str, ...] = ()  # every file of the model it belongs to (split sets)
    request: str = ""  # the pull request that resumes it, where the source is not the Hub (``ollama:...``)

    @property
    def request_text(self) -> str:
        """What to pass to ``pull`` to resume it: pinned to the commit, so it names these very bytes."""
        if self.request:
            return self.request
        return f"hf:{self.repo_id}@{self.commit}/{self.group[0] if self.group else self.file}"


def part_paths(paths: AppPaths, download_id: str) -> tuple[Path, Path]:
    return (paths.downloads_dir / f"{download_id}{PART_SUFFIX}",
            paths.downloads_dir / f"{download_id}{META_SUFFIX}")


def ranges_path(part: Path) -> Path:
    """Where the piece map of ``part`` lives (``<id>.part`` -> ``<id>.ranges``)."""
    return part.with_suffix(RANGES_SUFFIX)


def written_bytes(part: Path, size: int | None) -> int:
    """Bytes of a partial that are really written: the sum of its piece map when it has one (a ranged
    partial is pre-allocated to full size), else its length; at most ``size``."""
    try:
        raw = json.loads(ranges_path(part).read_text(encoding="utf-8"))
        have = sum(int(value) for value in raw["done"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            have = part.stat().st_size
        except OSError:
            return 0
    return have if size is None else min(have, size)


def partial_size(paths: AppPaths, download_id: str, size: int) -> int:
    """Bytes of the download already on disk (none: 0), at most ``size``."""
    part, _meta = part_paths(paths, download_id)
    return written_bytes(part, size)


def list_partials(paths: AppPaths) -> list[PartialDownload]:
    """Unfinished downloads on disk, newest first. Sidecars without bytes (or bytes without a sidecar)
    are skipped: they cannot be resumed."""
    found: list[tuple[float, PartialDownload]] = []
    if not paths.downloads_dir.is_dir():
        return []
    for meta_path in paths.downloads_dir.glob(f"*{META_SUFFIX}"):
        part = meta_path.with_suffix(PART_SUFFIX)
        try:
            raw = json.loads(meta_path.read_text(encoding="utf-8"))
            stat = part.stat()
            partial = PartialDownload(
                download_id=str(raw["id"]), repo_id=str(raw["repo_id"]), revision=str(raw["revision"]),
                commit=str(raw["commit"]), file=str(raw["file"]), size=int(raw["size"]),
                sha256=raw.get("sha256"), target=str(raw["target"]),
                bytes_on_disk=written_bytes(part, int(raw["size"])),
                quant=str(raw.get("quant", "")), group=tuple(str(f) for f in raw.get("group", ())),
                request=str(raw.get("request", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append((stat.st_mtime, partial))
    return [p for _t, p in sorted(found, key=lambda item: item[0], reverse=True)]


def discard_partial(paths: AppPaths, download_id: str) -> None:
    part, meta = part_paths(paths, download_id)
    for path in (part, meta, ranges_path(part)):
        path.unlink(missing_ok=True)
