"""The download queue on disk (``jobs.json``): what was queued or running, so the next start can offer it
again. Read entry by entry: one malformed entry does not cost the others."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_wrangler.atomic import write_json_atomic
from llama_wrangler.kept_aside import BadEntry

VERSION = 1


def write_jobs_file(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the queue with ``entries`` (atomically). Raises OSError."""
    write_json_atomic(path, {"version": VERSION, "jobs": entries})


@dataclass(frozen=True)
class PersistedQueue:
    """What a jobs file holds: the entries that can be offered again, and those that could not be read."""

    entries: list[dict[str, Any]]
    bad: list[BadEntry]


def read_jobs_file(path: Path) -> PersistedQueue:
    """Entries of a jobs file, one by one: a malformed entry is returned in ``bad``, the rest still count.
    A file that is missing, unreadable or not a queue at all reads as empty (a queue is a convenience,
    not data)."""
    with contextlib.suppress(OSError, ValueError):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict) and isinstance(raw.get("jobs"), list):
            entries: list[dict[str, Any]] = []
            bad: list[BadEntry] = []
            for position, entry in enumerate(raw["jobs"], 1):
                problem = _entry_problem(entry)
                if problem is None:
                    entries.append(entry)
                else:
                    bad.append(BadEntry(_entry_label(entry, position), problem, entry))
            return PersistedQueue(entries, bad)
    return PersistedQueue([], [])


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "not a JSON object"
    if not isinstance(entry.get("kind"), str):
        return "no 'kind'"
    if not isinstance(entry.get("persist"), dict):
        return "'persist' is not a JSON object"
    for key in ("title", "job_id"):
        if key in entry and not isinstance(entry[key], str):
            return f"{key!r} is not a string"
    return None


def _entry_label(entry: object, position: int) -> str:
    if isinstance(entry, dict):
        for key in ("title", "job_id"):
            if isinstance(entry.get(key), str) and entry[key]:
                return str(entry[key])
    return f"job entry {position}"
