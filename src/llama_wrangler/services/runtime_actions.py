"""The llama.cpp runtime as the window sees it: checked in the background (a llama-server on PATH is run
once with ``--version``, as ``serve`` does), installed, rebuilt or replaced by a llama-server the user
picks, and its conversion tools installed — every one of them a job in the Downloads list.

Nothing here runs on the GUI thread except bookkeeping; results come back through the jobs' signals.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from llama_wrangler.errors import LlamaRuntimeError, SettingsError
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.runtime.report import RuntimeReport, RuntimeState, runtime_report
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.settings import RuntimeSettings
from llama_wrangler.work import JobKind, Work
from llama_wrangler.workers.jobs import Job, JobManager, JobState

if TYPE_CHECKING:
    from llama_wrangler.services.runtime_work import RuntimeWork

log = logging.getLogger(__name__)

NEEDED_TO_SERVE = "llama.cpp is needed to run models — install it on the llama.cpp page."


class RuntimeActions(QObject):
    """Signals:
        report_changed(object): a new :class:`RuntimeReport` (after a check).
        checking_changed(bool): a check started (True) or ended (False).
        job_started(object): an install / build / toolchain :class:`Job` was queued.
    """

    report_changed = Signal(object)
    checking_changed = Signal(bool)
    job_started = Signal(object)

    def __init__(self, paths: AppPaths, settings: SettingsStore, jobs: JobManager, messenger: Messenger,
                 *, work: RuntimeWork | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paths = paths
        self._settings = settings
        self._jobs = jobs
        self._messenger = messenger
        self._work_given = work
        self.report: RuntimeReport | None = None
        self._check: Job | None = None
        self._check_again = False
        self._checked_with: RuntimeSettings | None = None
        self.build_job: Job | None = None  # the latest install / build / toolchain job

    @property
    def _work(self) -> RuntimeWork:
        # Loaded on first use: the install code brings httpx, which the window need not load at start.
        if self._work_given is None:
            from llama_wrangler.services.runtime_work import RuntimeWork

            self._work_given = RuntimeWork(self._paths, lambda: self._settings.settings)
        return self._work_given

    # -- state -----------------------------------------------------------------------------------------
    @property
    def checking(self) -> bool:
        return self._check is not None

    def serve_blocker(self) -> str:
        """Why a model cannot be served now ('' when it can, or while the first check still runs)."""
        report = self.report
        if report is None or report.usable:
            return ""
        if report.state is RuntimeState.MISSING:
            return NEEDED_TO_SERVE
        return f"{report.headline}: {report.problem}"

    def busy(self) -> bool:
        """An install, build or toolchain job is queued or running."""
        return self.build_job is not None and not self.build_job.is_final

    def build_log(self) -> Path | None:
        """The newest log of a build or toolchain install that exists on disk."""
        candidates = [p for p in (self.build_job.log_file if self.build_job else None, self._work.build_log())
                      if p is not None and p.is_file()]
        return candidates[0] if candidates else None

    # -- the check -------------------------------------------------------------------------------------
    def settings_changed(self) -> None:
        """Check again when the runtime settings changed (a theme change runs nothing)."""
        if self._settings.settings.runtime != self._checked_with:
            self.refresh()

    def refresh(self) -> None:
        """Check the runtime again in the background (a check already running is followed by one more)."""
        if self._check is not None:
            self._check_again = True
            return
        settings, paths = self._settings.settings, self._paths
        self._checked_with = settings.runtime

        def work(_progress: ProgressCallback, _cancel: CancelToken) -> RuntimeReport:
            return runtime_report(settings, paths)

        job = Job(JobKind.INSPECT, "Check llama.cpp", work)
        job.finished.connect(self._on_checked)
        job.failed.connect(lambda message: self._on_check_failed(message))
        self._check = job
        self.checking_changed.emit(True)
        self._jobs.submit(job)

    def _on_checked(self, result: object) -> None:
        if isinstance(result, RuntimeReport):
            self.report = result
            log.info("llama.cpp runtime: %s %s", result.state.value, result.server or result.problem)
        self._check_done()
        self.report_changed.emit(self.report)

    def _on_check_failed(self, message: str) -> None:
        log.warning("the runtime check failed: %s", message)
        self._check_done()

    def _check_done(self) -> None:
        job, self._check = self._check, None
        if job is not None and job.is_final:
            self._jobs.remove(job.job_id)
        self.checking_changed.emit(False)
        if self._check_again:
            self._check_again = False
            self.refresh()

    # -- actions ---------------------------------------------------------------------------------------
    def install(self) -> Job | None:
        return self._submit(self._work.install(), "llama.cpp is installed.", prefer_own=True)

    def rebuild(self) -> Job | None:
        return self._submit(self._work.rebuild(), "llama.cpp was built and installed.", prefer_own=True)

    def install_toolchain(self) -> Job | None:
        report = self.report
        if report is None or report.root is None:
            self._messenger.warning("The conversion tools live beside the app's own llama.cpp: install "
                                    "llama.cpp here first.")
            return None
        return self._submit(self._work.toolchain(report.root), "The conversion tools are installed.")

    def use_existing(self, path: Path) -> Job:
        """Check ``path`` with ``--version`` in the background; when it is usable, the settings use it."""

        def work(_progress: ProgressCallback, _cancel: CancelToken) -> object:
            from llama_wrangler.services.runtime_work import check_llama_server

            return check_llama_server(path)

        job = Job(JobKind.INSPECT, f"Check {path.name}", work)
        job.finished.connect(lambda info, p=path, j=job: self._on_existing_checked(p, info, j))
        job.failed.connect(lambda message, j=job: self._on_existing_failed(path, message, j))
        return self._jobs.submit(job)

    def _on_existing_checked(self, path: Path, info: object, job: Job) -> None:
        self._forget(job)
        current = self._settings.settings
        runtime = current.runtime.model_copy(update={"llama_server_path": path})
        try:
            self._settings.update(current.model_copy(update={"runtime": runtime}))
        except SettingsError as exc:
            self._messenger.report(exc)
            return
        build = getattr(info, "build_number", None)
        self._messenger.info(f"Using {path}" + (f" (build {build})." if build else "."))
        self.refresh()

    def _on_existing_failed(self, path: Path, message: str, job: Job) -> None:
        self._forget(job)
        self._messenger.error(f"{path} cannot be used: {message}")

    def _forget(self, job: Job) -> None:
        if job.is_final:
            self._jobs.remove(job.job_id)

    def _submit(self, work: Work[object], done_text: str, *, prefer_own: bool = False) -> Job | None:
        if self.busy():
            self._messenger.info("A llama.cpp job is already running; see Downloads.")
            return None
        job = Job.from_work(work)
        job.finished.connect(lambda _result: self._on_job_done(done_text, prefer_own))
        job.failed.connect(lambda message, j=job: self._on_job_failed(j, message))
        self.build_job = job
        self._jobs.submit(job)
        self.job_started.emit(job)
        return job

    def _on_job_done(self, done_text: str, prefer_own: bool) -> None:
        if prefer_own:
            self._prefer_own_runtime()
        self._messenger.info(done_text)
        self.refresh()

    def _prefer_own_runtime(self) -> None:
        """The user installed ours: a llama-server chosen in the settings would otherwise still win."""
        current = self._settings.settings
        if current.runtime.llama_server_path is None:
            return
        runtime = current.runtime.model_copy(update={"llama_server_path": None})
        try:
            self._settings.update(current.model_copy(update={"runtime": runtime}))
        except SettingsError as exc:
            self._messenger.report(exc)

    def _on_job_failed(self, job: Job, message: str) -> None:
        if job.state != JobState.CANCELLED:
            self._messenger.error(f"{job.title} failed: {message}",
                                  details=f"The full log is in {job.log_file}." if job.log_file else "")
        self.refresh()

    def check_before_serve(self, server: Path) -> None:
        """Raise when the background check found ``server`` unusable (broken, too old): a plain message
        before a serve, never a crashed server. A runtime found since a check said "missing" (installed
        from a terminal meanwhile) is let through, and checked again."""
        report = self.report
        if report is None:
            return
        if report.state is RuntimeState.MISSING or report.server != server:
            self.refresh()
            return
        if not report.usable:
            raise LlamaRuntimeError(self.serve_blocker())
