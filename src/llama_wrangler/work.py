"""A unit of long work, described once and run either in the foreground (the command line, with a
progress bar) or as a background job (the window's Downloads page).

Services build :class:`Work`; ``workers.jobs.Job.from_work`` wraps it for a worker thread. Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from llama_wrangler.progress import CancelToken, ProgressCallback


class JobKind(StrEnum):
    """The queues long work waits in (each with its own limit): a slow conversion never holds up a
    download. The values are on disk in ``jobs.json``."""

    DOWNLOAD = "download"
    CONVERT = "convert"  # conversions and re-quantizations share one queue: both are CPU/disk heavy
    IMPORT = "import"
    BUILD = "build"  # a llama.cpp build
    INSPECT = "inspect"  # a repo lookup for a dialog: short, shown nowhere


WorkFunction = Callable[[ProgressCallback, CancelToken], object]
ResultT = TypeVar("ResultT", covariant=True)


@dataclass(frozen=True)
class Work(Generic[ResultT]):
    """``run(progress, cancel)`` does the work and returns its result.

    ``kind`` is the job queue it belongs to; ``persist`` a JSON-able
    description that lets the app queue it again after a restart (``None``: not worth resuming);
    ``log_file`` where the work writes its full log (a build's), shown one click away from its row.
    """

    kind: JobKind
    title: str
    run: Callable[[ProgressCallback, CancelToken], ResultT]
    persist: Mapping[str, Any] | None = field(default=None)
    log_file: Path | None = field(default=None)
