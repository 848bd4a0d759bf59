"""Importing files into the library as one :class:`~llama_wrangler.work.Work`, run in the foreground by
``llama-wrangler import`` and as a job by the window (drag-and-drop, the import dialog). Qt-free."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_wrangler.library.registry import Library, ModelRecord
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.settings import ImportMode
from llama_wrangler.work import JobKind, Work


@dataclass
class ImportPlan:
    """What a set of paths holds: those we can import and what we refuse (with reasons)."""

    usable: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def plan_import(paths: Sequence[Path]) -> ImportPlan:
    """Folders and ``.gguf`` files are usable (their headers are checked by the import itself)."""
    plan = ImportPlan()
    for path in paths:
        if path.is_dir() or (path.suffix.lower() == ".gguf" and path.is_file()):
            plan.usable.append(path)
        elif not path.exists():
            plan.refused.append(f"{path.name} (it does not exist)")
        else:
            plan.refused.append(f"{path.name} (not a .gguf model file)")
    return plan


def import_work(library: Library, paths: Sequence[Path], mode: ImportMode) -> Work[list[ModelRecord]]:
    """Check and add ``paths`` (files or folders of .gguf) with ``mode``; the result is the list of new
    :class:`ModelRecord` objects."""
    files = list(paths)

    def run(progress: ProgressCallback, cancel: CancelToken) -> list[ModelRecord]:
        return library.import_files(files, mode, progress=progress, cancel=cancel)

    title = files[0].name if len(files) == 1 else f"{len(files)} items"
    return Work(JobKind.IMPORT, f"Import {title} ({mode.value})", run)
