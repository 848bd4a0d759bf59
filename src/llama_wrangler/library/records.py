"""The registry's data: one :class:`ModelRecord` per model, and how it is stored in ``registry.json``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from llama_wrangler.library.gguf import GGUFInfo
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.origins import ModelSource, Origin, origin_from_dict

_T = TypeVar("_T")

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
    source: ModelSource
    owned: bool
    missing: bool
    added_at: str
    origin: Origin | None
    info: GGUFInfo
    stats: tuple[FileStat, ...] = ()
    shard_sha256: tuple[str, ...] = ()  # every shard's sha256, shard 1 first, once all are known
    mmproj: Path | None = None  # the vision projector paired with it (llama-server's --mmproj)
    load: LoadSettings = field(default_factory=LoadSettings)  # how it is loaded (None: the global setting)

    @property
    def path(self) -> Path:
        return self.paths[0]

    @property
    def quant(self) -> str | None:
        return self.info.quant

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "paths": [str(p) for p in self.paths],
            "size_bytes": self.size_bytes, "sha256": self.sha256, "source": self.source.value,
            "owned": self.owned, "missing": self.missing, "added_at": self.added_at,
            "origin": {} if self.origin is None else self.origin.to_dict(),
            "stats": [list(s) for s in self.stats],
            "shard_sha256": list(self.shard_sha256), "info": self.info.to_dict(),
            "mmproj": None if self.mmproj is None else str(self.mmproj),
            **({} if self.load.is_default else {"load": self.load.to_dict()}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRecord:
        """Raises KeyError/TypeError/ValueError on a malformed entry, naming the field that is wrong
        (:class:`BadLoadSettingsError` when only its ``load`` is)."""
        paths = data["paths"]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
            raise ValueError("'paths' is not a list of file paths")
        source = ModelSource(_typed(data, "source", str))
        stats = data.get("stats", [])
        if not isinstance(stats, list) or not all(
                isinstance(s, list) and len(s) == 2 and all(_is_int(n) for n in s) for s in stats):
            raise ValueError("'stats' is not a list of [size, mtime] pairs")
        shard_sha256 = data.get("shard_sha256", [])
        if not isinstance(shard_sha256, list) or not all(isinstance(h, str) for h in shard_sha256):
            raise ValueError("'shard_sha256' is not a list of strings")
        sha256 = data.get("sha256")
        if sha256 is not None and not isinstance(sha256, str):
            raise ValueError("'sha256' is not a string")
        mmproj = data.get("mmproj")
        if mmproj is not None and (not isinstance(mmproj, str) or not mmproj):
            raise ValueError("'mmproj' is not a file path")
        size = data["size_bytes"]
        if not _is_int(size):
            raise ValueError(f"'size_bytes' is not a whole number ({size!r})")
        record = cls(
            id=_typed(data, "id", str), name=_typed(data, "name", str), paths=tuple(Path(p) for p in paths),
            size_bytes=size, sha256=sha256, source=source, owned=_typed(data, "owned", bool),
            missing=bool(data.get("missing", False)), added_at=str(data.get("added_at", "")),
            origin=origin_from_dict(source, data.get("origin")),
            info=GGUFInfo.from_dict(_typed(data, "info", dict)),
            stats=tuple((s[0], s[1]) for s in stats), shard_sha256=tuple(shard_sha256),
            mmproj=None if mmproj is None else Path(mmproj),
        )
        if "load" not in data:  # written before models had load settings
            return record
        try:
            return replace(record, load=LoadSettings.from_dict(data["load"]))
        except ValueError as exc:
            raise BadLoadSettingsError(f"its load settings are unreadable ({exc})") from None


class BadLoadSettingsError(ValueError):
    """Only an entry's ``load`` is malformed: the model itself is readable (the registry keeps it with
    default load settings and keeps the entry as it was aside)."""


def _typed(data: Mapping[str, Any], key: str, kind: type[_T]) -> _T:
    value = data[key]
    if not isinstance(value, kind) or (kind is str and not value):
        raise ValueError(f"{key!r} is not a {'non-empty string' if kind is str else kind.__name__} ({value!r})")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is in ``folder`` or below it (compared as absolute paths; links are not followed)."""
    try:
        return absolute(path).is_relative_to(absolute(folder))
    except OSError:
        return False
