"""Background jobs: a Qt-free core function run on a QThread, reported through signals on the GUI thread.

A :class:`Job` wraps ``work(progress, cancel) -> result`` (the core functions in ``sources/``, ``convert/``,
``runtime/`` all have that shape). The :class:`JobManager` queues jobs per kind — a slow conversion never
holds up a download — runs at most N of each kind at once, and persists what is queued or running to
``paths.jobs_file`` so interrupted jobs can be offered again when the app starts.

Thread model: each run gets its own ``_Runner`` QThread. The runner only emits its private signals; they
reach the job through queued connections, so the job's public signals are always emitted on the thread the
job lives on (the GUI thread), whatever the receiver is — a widget slot or a plain lambda.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from llama_wrangler.errors import CancelledError, WranglerError
from llama_wrangler.kept_aside import describe, keep_aside
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.work import JobKind, Work, WorkFunction
from llama_wrangler.workers.queue_file import PersistedQueue, read_jobs_file, write_jobs_file

log = logging.getLogger(__name__)

JobWork = WorkFunction

_ids = itertools.count(1)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


class _Runner(QThread):
    """Runs one attempt of a job's work. Emits only; never touches the job's state itself."""

    reported = Signal(object)
    succeeded = Signal(object)
    errored = Signal(str, int)  # user message, 1 if cancelled

    def __init__(self, work: JobWork, token: CancelToken) -> None:
        super().__init__()
        self._work = work
        self._token = token

    def run(self) -> None:
        try:
            result = self._work(self.reported.emit, self._token)
        except CancelledError as exc:
            self.errored.emit(str(exc), 1)
        except WranglerError as exc:
            self.errored.emit(str(exc), int(self._token.cancelled))
        except Exception as exc:  # a bug in core code must not kill the app; the log keeps the traceback
            log.exception("job crashed")
            self.errored.emit(f"Unexpected error: {exc}", int(self._token.cancelled))
        else:
            if self._token.cancelled:
                self.errored.emit("Cancelled.", 1)
            else:
                self.succeeded.emit(result)


class Job(QObject):
    """One unit of background work.

    Signals:
        progress(Progress): a progress report (GUI thread).
        finished(object): the work's result, once.
        failed(str): a message written for the user (also emitted with "Cancelled." on cancel).
        state_changed(str): the new :class:`JobState` value.

    ``persist`` is a JSON-able description that lets the app re-create the job after a restart (see
    :meth:`JobManager.interrupted`); ``None`` means the job is not worth resuming.
    """

    progress = Signal(Progress)
    finished = Signal(object)  # whatever the work returns: a ModelRecord, a listing, a list of records...
    failed = Signal(str)
    state_changed = Signal(str)

    def __init__(self, kind: JobKind, title: str, work: JobWork, *, persist: Mapping[str, Any] | None = None,
                 job_id: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id or f"job-{next(_ids)}"
        self.kind = JobKind(kind)  # a plain string from jobs.json becomes the enum (or a ValueError)
        self.title = title
        self.persist: dict[str, Any] | None = dict(persist) if persist is not None else None
        self.log_file: Path | None = None  # the work's full log (a build's), when it writes one
        self.state: JobState = JobState.QUEUED
        self.last_progress: Progress | None = None
        self.result: object = None
        self.error: str | None = None
        self._work = work
        self._token = CancelToken()
        self._runner: _Runner | None = None

    @classmethod
    def from_work(cls, work: Work[object], *, parent: QObject | None = None) -> Job:
        """A job that runs ``work`` on a worker thread."""
        job = cls(work.kind, work.title, work.run, persist=work.persist, parent=parent)
        job.log_file = work.log_file
        return job

    # -- public API ------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to stop. A queued job is cancelled at once; a running one when its work notices."""
        if self.state == JobState.QUEUED:
            self._token.cancel()
            self._set_state(JobState.CANCELLED)
            self.failed.emit("Cancelled.")
        elif self.state == JobState.RUNNING:
            self._token.cancel()

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def is_running(self) -> bool:
        return self.state == JobState.RUNNING

    def wait(self, ms: int = -1) -> bool:
        """Block until the worker thread ends (app shutdown and tests; never from a widget)."""
        runner = self._runner
        if runner is None:
            return True
        return runner.wait() if ms < 0 else runner.wait(ms)

    # -- used by JobManager ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.state != JobState.QUEUED:
            raise RuntimeError(f"job {self.job_id} is {self.state}, not queued")
        runner = _Runner(self._work, self._token)
        # Queued connections: the slots run on this object's thread (the GUI thread), not the runner's.
        runner.reported.connect(self._on_reported, Qt.ConnectionType.QueuedConnection)
        runner.succeeded.connect(self._on_succeeded, Qt.ConnectionType.QueuedConnection)
        runner.errored.connect(self._on_errored, Qt.ConnectionType.QueuedConnection)
        self._runner = runner
        self._set_state(JobState.RUNNING)
        runner.start()

    def reset(self) -> None:
        """Make a failed or cancelled job runnable again (retry)."""
        if self.state not in (JobState.FAILED, JobState.CANCELLED):
            raise RuntimeError(f"job {self.job_id} is {self.state}; only failed or cancelled jobs retry")
        self.wait()
        self._token = CancelToken()
        self._runner = None
        self.error = None
        self.result = None
        self.last_progress = None
        self._set_state(JobState.QUEUED)

    # -- slots -----------------------------------------------------------------------------------------
    @Slot(object)
    def _on_reported(self, report: object) -> None:
        if self.state != JobState.RUNNING or not isinstance(report, Progress):
            return
        self.last_progress = report
        self.progress.emit(report)

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self._finish_thread()
        self.result = result
        self._set_state(JobState.DONE)
        self.finished.emit(result)

    @Slot(str, int)
    def _on_errored(self, message: str, cancelled: int) -> None:
        self._finish_thread()
        self.error = message
        self._set_state(JobState.CANCELLED if cancelled else JobState.FAILED)
        self.failed.emit(message)

    def _finish_thread(self) -> None:
        # The runner emitted its last signal as run() returned; waiting here is momentary.
        if self._runner is not None:
            self._runner.wait()

    def _set_state(self, state: JobState) -> None:
        if state == self.state:
            return
        self.state = state
        self.state_changed.emit(str(state))

    def __repr__(self) -> str:
        return f"<Job {self.job_id} {self.kind} {self.state} {self.title!r}>"


class JobManager(QObject):
    """Queues jobs per kind and runs up to ``limits[kind]`` of each kind at once (default 1).

    Signals:
        job_added(Job): a job was submitted.
        job_changed(Job): a job's state changed or it reported progress.

    With ``jobs_file`` set, every state change rewrites that file with the jobs that are queued or running
    (their ``persist`` descriptions), so :meth:`interrupted` can offer them again after a restart.
    """

    job_added = Signal(Job)
    job_changed = Signal(Job)

    def __init__(self, *, limits: Mapping[str, int] | None = None, jobs_file: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._limits: dict[str, int] = dict(limits or {})
        self._jobs_file = jobs_file
        self._jobs: list[Job] = []
        self._shutting_down = False
        self.queue_problem: str | None = None  # set by interrupted() when entries had to be left out

    @classmethod
    def from_settings(cls, settings: Any, paths: Any, parent: QObject | None = None) -> JobManager:
        """Limits from ``settings.downloads`` (downloads N at once, conversions M), queue in ``paths``."""
        downloads = settings.downloads
        return cls(limits={JobKind.DOWNLOAD: downloads.max_parallel_downloads,
                           JobKind.CONVERT: downloads.max_parallel_conversions,
                           JobKind.BUILD: 1},
                   jobs_file=paths.jobs_file, parent=parent)

    def set_limit(self, kind: str, limit: int) -> None:
        self._limits[kind] = max(1, limit)
        self._schedule()

    def limit(self, kind: str) -> int:
        return self._limits.get(kind, 1)

    # -- public API ------------------------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        if any(existing.job_id == job.job_id for existing in self._jobs):
            raise ValueError(f"a job with id {job.job_id} was already submitted")
        job.setParent(self)
        self._jobs.append(job)
        job.state_changed.connect(lambda _state, j=job: self._on_state_changed(j))
        job.progress.connect(lambda _report, j=job: self.job_changed.emit(j))
        self.job_added.emit(job)
        self._persist()
        self._schedule()
        return job

    def jobs(self, kind: str | None = None) -> list[Job]:
        return [job for job in self._jobs if kind is None or job.kind == kind]

    def get(self, job_id: str) -> Job:
        for job in self._jobs:
            if job.job_id == job_id:
                return job
        raise KeyError(job_id)

    def cancel(self, job_id: str) -> None:
        self.get(job_id).cancel()

    def retry(self, job_id: str) -> None:
        job = self.get(job_id)
        job.reset()
        self._persist()
        self._schedule()

    def remove(self, job_id: str) -> None:
        """Forget a finished job (clear it from a downloads list)."""
        job = self.get(job_id)
        if not job.is_final:
            raise RuntimeError(f"job {job_id} is still {job.state}")
        self._jobs.remove(job)
        job.deleteLater()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel everything and wait for worker threads (app exit). The queue file keeps what was
        pending so the next start can offer it again."""
        self._shutting_down = True
        for job in self._jobs:
            if job.state == JobState.RUNNING:
                job._token.cancel()
        for job in self._jobs:
            job.wait(timeout_ms)

    def interrupted(self) -> list[dict[str, Any]]:
        """What the previous session left queued or running (``persist`` descriptions, each with
        ``kind``, ``title`` and ``job_id``), read from the jobs file. Corrupt files read as empty.

        A malformed entry is left out: kept in ``jobs.bad-entries.jsonl`` beside the jobs file, and
        described in :attr:`queue_problem` for the user; the file is rewritten without it."""
        if self._jobs_file is None:
            return []
        queue = read_jobs_file(self._jobs_file)
        if queue.bad:
            self._leave_out(self._jobs_file, queue)
        return queue.entries

    def _leave_out(self, jobs_file: Path, queue: PersistedQueue) -> None:
        try:
            kept = keep_aside(jobs_file, queue.bad)
        except OSError as exc:
            self.queue_problem = (f"Unfinished jobs that could not be read were left out "
                                  f"({describe(queue.bad)}) and could not be kept aside: {exc.strerror or exc}.")
        else:
            self.queue_problem = (f"Unfinished jobs that could not be read were left out: "
                                  f"{describe(queue.bad)}. They are kept in {kept.name}.")
            try:
                write_jobs_file(jobs_file, queue.entries)
            except OSError:
                log.warning("could not write %s", jobs_file, exc_info=True)
        log.warning(self.queue_problem)

    # -- internals -------------------------------------------------------------------------------------
    def _on_state_changed(self, job: Job) -> None:
        self.job_changed.emit(job)
        if not self._shutting_down:
            self._persist()
            self._schedule()

    def _schedule(self) -> None:
        if self._shutting_down:
            return
        for kind in dict.fromkeys(job.kind for job in self._jobs):
            running = sum(1 for job in self._jobs if job.kind == kind and job.state == JobState.RUNNING)
            for job in self._jobs:
                if running >= self.limit(kind):
                    break
                if job.kind == kind and job.state == JobState.QUEUED:
                    job.start()
                    running += 1

    def _persist(self) -> None:
        if self._jobs_file is None:
            return
        pending = [
            {"job_id": job.job_id, "kind": job.kind, "title": job.title, "persist": job.persist}
            for job in self._jobs
            if job.persist is not None and job.state in (JobState.QUEUED, JobState.RUNNING)
        ]
        try:
            write_jobs_file(self._jobs_file, pending)
        except OSError:
            log.warning("could not write %s", self._jobs_file, exc_info=True)
