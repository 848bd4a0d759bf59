"""Entries of a data file that could not be read, kept beside it so nothing the user had is lost.

Each entry is appended as one JSON line (``{"kept_at", "reason", "entry"}``) to a ``*.bad-entries.jsonl``
file next to the data file; earlier entries are never overwritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class BadEntry:
    """One entry that could not be read: a name for the user, why, and its JSON as it was."""

    label: str
    reason: str
    raw: object


def bad_entries_file(data_file: Path) -> Path:
    """``registry.json`` -> ``registry.bad-entries.jsonl`` (in the same folder)."""
    return data_file.with_name(f"{data_file.stem}.bad-entries.jsonl")


def keep_aside(data_file: Path, entries: Sequence[BadEntry]) -> Path:
    """Append ``entries`` to ``data_file``'s bad-entries file and return its path. Raises OSError."""
    target = bad_entries_file(data_file)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    lines = "".join(json.dumps({"kept_at": stamp, "reason": entry.reason, "entry": entry.raw},
                               ensure_ascii=False) + "\n" for entry in entries)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())
    return target


def describe(entries: Sequence[BadEntry]) -> str:
    """``"a" (reason); "b" (reason)`` for a problem message."""
    return "; ".join(f"{entry.label!r} ({entry.reason})" for entry in entries)
