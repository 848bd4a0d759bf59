"""A rescan's work on the records: what changed on disk for a known model, and the new files found in
the models folder. Pure functions over records; :meth:`Library.rescan` holds the locks and saves."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from llama_wrangler.errors import GGUFError, ModelImportError
from llama_wrangler.library.gguf import read_gguf_set
from llama_wrangler.library.origins import ModelSource
from llama_wrangler.library.projectors import PROJECTOR_ARCHITECTURES, projector_beside
from llama_wrangler.library.records import ModelRecord, ScanReport, absolute, make_id, now_iso, stat_files
from llama_wrangler.library.shards import group_shards, model_stem


def rescan_record(record: ModelRecord, report: ScanReport) -> ModelRecord | None:
    """``record`` as its files are now (the same object when nothing changed); None when an owned
    model's files are gone (a linked one is kept, marked missing). Notes the outcome in ``report``."""
    stats = stat_files(record.paths)
    if stats is None:
        report.vanished.append(record.id)
        if record.owned:
            return None
        return record if record.missing else replace(record, missing=True)
    if stats == record.stats and not record.missing:
        report.unchanged.append(record.id)
        return record
    if stats == record.stats:  # back after being missing, same file
        report.changed.append(record.id)
        return replace(record, missing=False)
    try:
        info = read_gguf_set(record.paths)
    except GGUFError as exc:
        report.errors.append(str(exc))
        info = record.info
    report.changed.append(record.id)
    return replace(record, info=info, stats=stats, size_bytes=sum(s[0] for s in stats),
                   sha256=None, shard_sha256=(), missing=False)


def found_records(files: list[Path], taken: set[str], report: ScanReport) -> list[ModelRecord]:
    """New owned records for model files found in the models folder (shards grouped), with ids not in
    ``taken``. Files that are not usable models are noted in ``report.errors``."""
    records: list[ModelRecord] = []
    taken = set(taken)
    seen: set[Path] = set()
    for path in files:
        if path in seen:
            continue
        try:
            group = group_shards([path])[0]
            seen.update(group)
            info = read_gguf_set(group)
        except (GGUFError, ModelImportError) as exc:
            report.errors.append(str(exc))
            continue
        if info.architecture in PROJECTOR_ARCHITECTURES:
            continue  # a projector is not a model: it is paired with the model beside it
        display = model_stem(group[0])
        stats = stat_files(group)
        if stats is None:
            continue
        record = ModelRecord(
            id=make_id(display, info.quant, taken), name=display, paths=group,
            size_bytes=sum(s[0] for s in stats), sha256=None, source=ModelSource.LOCAL, owned=True,
            missing=False, added_at=now_iso(), origin=None, info=info, stats=stats,
            mmproj=projector_beside(group[0]))
        taken.add(record.id)
        records.append(record)
        report.added.append(record.id)
    return records


def gguf_files(folder: Path) -> list[str]:
    """Absolute paths (strings: a rescan compares a thousand of them, and Path objects cost) of ``*.gguf``
    under ``folder``, recursively, skipping hidden names (our temp files start with '.')."""
    found: list[str] = []
    stack = [str(absolute(folder))]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.name.lower().endswith(".gguf"):
                found.append(entry.path)
    found.sort()
    return found
