"""Finding a record the way a user names a model: by id, name, id prefix or file path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from llama_wrangler.errors import ModelNotFoundError
from llama_wrangler.library.origins import ImportOrigin
from llama_wrangler.library.records import ModelRecord, absolute


def match_ref(records: Sequence[ModelRecord], ref: str) -> ModelRecord:
    """The one record ``ref`` names: exact name, name in any case, the title the window shows (the GGUF
    header's ``general.name``), unique id prefix, or file path (the id itself is looked up by the caller
    first). Raises ModelNotFoundError when none or several match."""
    for matches in (
        [r for r in records if r.name == ref],
        [r for r in records if r.name.lower() == ref.lower()],
        [r for r in records if r.info.name and r.info.name.strip().lower() == ref.strip().lower()],
        [r for r in records if r.id.startswith(ref.lower())] if ref else [],
        by_path(records, ref),
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(sorted(r.id for r in matches)[:5])
            raise ModelNotFoundError(f"{ref!r} matches several models ({names}); use the full id.")
    raise ModelNotFoundError(f"No model in the library matches {ref!r}.",
                             hint="`llama-wrangler list` shows the ids.")


def by_path(records: Sequence[ModelRecord], ref: str) -> list[ModelRecord]:
    """Records one of whose files is ``ref`` (the same file, even through another link). Only a ``ref``
    that looks like a path (a separator, or ending in .gguf) is tried."""
    if not ref or ("/" not in ref and os.sep not in ref and not ref.lower().endswith(".gguf")):
        return []
    try:
        target = Path(ref).stat()
    except OSError:
        wanted = absolute(ref)
        return [r for r in records if wanted in r.paths]
    found = []
    for record in records:
        for path in record.paths:
            try:
                st = path.stat()
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                found.append(record)
                break
    return found


def imported_from(records: Sequence[ModelRecord], path: Path) -> ModelRecord | None:
    """The record imported from ``path`` whose first file still has ``path``'s size."""
    wanted = str(absolute(path))
    try:
        size = Path(path).stat().st_size
    except OSError:
        return None
    for record in records:
        if isinstance(record.origin, ImportOrigin) and record.origin.imported_from == wanted and \
                record.stats[:1] and record.stats[0][0] == size:
            return record
    return None
