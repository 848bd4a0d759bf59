"""The registry's data: one :class:`ModelRecord` per model, and how it is stored in ``registry.json``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llama_wrangler.library.gguf import GGUFInfo

# (size, mtime_ns) of each shard: what rescans compare, and what a cached sha256 is valid for.
FileStat = tuple[int, int]


@dataclass(frozen=True)
class ModelRecord:
    """A model the library knows. ``owned`` models live in our models folder (we may delete them);
    the others are linked in place. ``sha256`` is of ``path`` (shard 1), None until hashed."""

    id: str
    name: str
    paths: tuple[Path, ...]
    size_bytes: int
    sha256: str | None
    source: str
    owned: bool
    missing: bool
    added_at: str
    origin: dict[str, str]
    info: GGUFInfo
    stats: tuple[FileStat, ...] = ()
    shard_sha256: tuple[str, ...] = ()  # every shard's sha256, shard 1 first, once all are known

    @property
    def path(self) -> Path:
        return self.paths[0]

    @property
    def quant(self) -> str | None:
        return self.info.quant

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "paths": [str(p) for p in self.paths],
            "size_bytes": self.size_bytes, "sha256": self.sha256, "source": self.source,
            "owned": self.owned, "missing": self.missing, "added_at": self.added_at,
            "origin": dict(self.origin), "stats": [list(s) for s in self.stats],
            "shard_sha256": list(self.shard_sha256), "info": self.info.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRecord:
        """Raises KeyError/TypeError/ValueError on a malformed entry (the registry treats that as corrupt)."""
        paths = tuple(Path(p) for p in data["paths"])
        if not paths or not isinstance(data["id"], str):
            raise ValueError("a model entry without id or paths")
        return cls(
            id=data["id"], name=str(data["name"]), paths=paths, size_bytes=int(data["size_bytes"]),
            sha256=data.get("sha256"), source=str(data["source"]), owned=bool(data["owned"]),
            missing=bool(data.get("missing", False)), added_at=str(data.get("added_at", "")),
            origin={str(k): str(v) for k, v in dict(data.get("origin", {})).items()},
            info=GGUFInfo.from_dict(data["info"]),
            stats=tuple((int(s[0]), int(s[1])) for s in data.get("stats", [])),
            shard_sha256=tuple(str(h) for h in data.get("shard_sha256", [])),
        )


@dataclass(frozen=True)
class ScanReport:
    """What :meth:`Library.rescan` found. Each list holds model ids; ``errors`` are user messages about
    files in the models folder that could not be added."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, {len(self.vanished)} vanished, "
                f"{len(self.unchanged)} unchanged" + (f", {len(self.errors)} unreadable" if self.errors else ""))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def stat_files(paths: tuple[Path, ...]) -> tuple[FileStat, ...] | None:
    """Sizes and mtimes of every shard, or None when any is gone."""
    stats = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            return None
        stats.append((st.st_size, st.st_mtime_ns))
    return tuple(stats)


_NON_SLUG = re.compile(r"[^a-z0-9._]+")


def slugify(text: str) -> str:
    slug = _NON_SLUG.sub("-", text.lower()).strip("-._")
    return slug or "model"


def make_id(name: str, quant: str | None, taken: set[str]) -> str:
    """A readable, stable id: the slug of the name plus the quant (unless the name already says it),
    with ``-2``, ``-3``... when taken."""
    base = slugify(name)
    if quant:
        quant_slug = slugify(quant)
        if quant_slug not in base:
            base = f"{base}-{quant_slug}"
    candidate, counter = base, 2
    while candidate in taken:
        candidate = f"{base}-{counter}"
        counter += 1
    return candidate


def absolute(path: Path | str) -> Path:
    """An absolute, normalised path that keeps symlinks as they are (Hugging Face cache files are links
    into its blob store; the link is the name we want to show and keep)."""
    return Path(os.path.abspath(path))  # noqa: PTH100  (Path.resolve() would follow the symlinks)
