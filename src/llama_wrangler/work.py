"""A unit of long work, described once and run either in the foreground (the command line, with a
progress bar) or as a background job (the window's Downloads page).

Services build :class:`Work`; ``workers.jobs.Job.from_work`` wraps it for a worker thread. Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from llama_wrangler.progress import CancelToken, ProgressCallback

WorkFunction = Callable[[ProgressCallback, CancelToken], object]
ResultT = TypeVar("ResultT", covariant=True)


@dataclass(frozen=True)
class Work(Generic[ResultT]):
    """``run(progress, cancel)`` does the work and returns its result.

    ``kind`` is the job queue it belongs to ("download", "convert", "import"); ``persist`` a JSON-able
    description that lets the app queue it again after a restart (``None``: not worth resuming).
    """

    kind: str
    title: str
    run: Callable[[ProgressCallback, CancelToken], ResultT]
    persist: Mapping[str, Any] | None = field(default=None)
