"""Split models: ``name-00001-of-00003.gguf`` and its siblings are one model.

The naming is llama.cpp's ``gguf-split`` convention (``%s-%05d-of-%05d.gguf``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from llama_wrangler.errors import ModelImportError

_SHARD = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)


def shard_parts(path: Path) -> tuple[str, int, int] | None:
    """(stem, shard number from 1, shard count) for a shard file name, else None."""
    match = _SHARD.match(path.name)
    if not match:
        return None
    number, count = int(match["no"]), int(match["count"])
    if count < 1 or not 1 <= number <= count:
        return None
    return match["stem"], number, count


def shard_name(stem: str, number: int, count: int) -> str:
    return f"{stem}-{number:05d}-of-{count:05d}.gguf"


def model_stem(path: Path) -> str:
    """The model's name without the shard suffix or extension (``name`` for ``name-00001-of-00003``)."""
    parts = shard_parts(path)
    if parts:
        return parts[0]
    return path.name[:-5] if path.name.lower().endswith(".gguf") else path.name


def shard_set(path: Path) -> tuple[Path, ...]:
    """Every file of the model ``path`` belongs to, shard 1 first. A single file is a set of one.

    Raises :class:`ModelImportError` naming the first missing shard.
    """
    parts = shard_parts(path)
    if parts is None:
        return (path,)
    stem, _number, count = parts
    files = tuple(path.with_name(shard_name(stem, i, count)) for i in range(1, count + 1))
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ModelImportError(f"{path.name} is shard of a {count}-part model, but {missing[0]}{more} "
                               f"is missing from {path.parent}.")
    return files


def group_shards(paths: Iterable[Path]) -> list[tuple[Path, ...]]:
    """Group GGUF files into models (split sets collapse to one). Order follows first appearance.
    Incomplete sets raise :class:`ModelImportError`."""
    seen: set[Path] = set()
    models: list[tuple[Path, ...]] = []
    for path in paths:
        if path in seen:
            continue
        files = shard_set(path)
        seen.update(files)
        models.append(files)
    return models
