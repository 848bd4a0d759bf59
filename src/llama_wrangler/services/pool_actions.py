"""The worker pool in the window: check the workers in the background, hold a start until the pool
passed its check (the serve gate), explain a crash caused by a lost worker, and run this computer's own
worker from the tray."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from llama_wrangler.errors import WranglerError
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.worker import WorkerOptions, WorkerSupervisor, exposure_warning, is_loopback
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.pool import WorkerStatus, check_workers, pooled_free_bytes, rpc_plan
from llama_wrangler.services.pool_watch import PoolWatch
from llama_wrangler.services.serve_target import ServeTarget
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobManager

log = logging.getLogger(__name__)

RuntimeProvider = Callable[[], LlamaRuntime | None]


class PoolActions(QObject):
    """Signals:
        checked(list): the :class:`WorkerStatus` of every worker, after a check.
        worker_state_changed(str): this computer's own worker changed state (a :class:`ServerState`).
    """

    checked = Signal(list)
    worker_state_changed = Signal(str)

    def __init__(self, settings: SettingsStore, supervisor: ServerFleet, jobs: JobManager,
                 messenger: Messenger, runtime: RuntimeProvider, paths: AppPaths,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._supervisor = supervisor
        self._jobs = jobs
        self._messenger = messenger
        self._runtime = runtime
        self._paths = paths
        self.statuses: list[WorkerStatus] = []
        self.worker: WorkerSupervisor | None = None
        self._watch = PoolWatch(supervisor, self)
        self._watch.workers_lost.connect(lambda _lost, message: messenger.error(message))

    # -- checks ----------------------------------------------------------------------------------------
    def check(self, then: Callable[[list[WorkerStatus]], None] | None = None) -> Job | None:
        """Probe every worker off the GUI thread; ``checked`` (and ``then``) get the result."""
        runtime = self._runtime()
        if runtime is None:
            self._messenger.warning("The pool needs the llama.cpp runtime on this computer first.")
            return None
        workers = self._settings.settings.pool.worker_list()

        def work(_progress: ProgressCallback, _cancel: CancelToken) -> list[WorkerStatus]:
            return check_workers(workers, runtime)

        job = Job(JobKind.INSPECT, "Check the worker pool", work)
        job.finished.connect(lambda result: self._on_checked(result, then))
        job.failed.connect(lambda message: self._messenger.error(f"The pool check failed: {message}"))
        return self._jobs.submit(job)

    def _on_checked(self, result: object, then: Callable[[list[WorkerStatus]], None] | None) -> None:
        self.statuses = [status for status in result if isinstance(status, WorkerStatus)] \
            if isinstance(result, list) else []
        self.checked.emit(self.statuses)
        if then is not None:
            then(self.statuses)

    def pooled_memory(self) -> int:
        """Free memory the pool offered at its last check, when models are split across it (else 0)."""
        if not self._settings.settings.pool.enabled:
            return 0
        return pooled_free_bytes(self.statuses)

    # -- the serve gate --------------------------------------------------------------------------------
    def gate(self, target: ServeTarget, proceed: Callable[[], None]) -> None:
        """Before a start: with the pool on, check it and pass its plan to the supervisor, or refuse."""
        pool = self._settings.settings.pool
        if not pool.enabled:
            self._supervisor.set_rpc(None)  # never fails: only a plan can be refused
            proceed()
            return

        def decide(statuses: list[WorkerStatus]) -> None:
            try:
                plan = rpc_plan(self._settings.settings.pool, statuses)
                self._supervisor.set_rpc(plan)
            except WranglerError as exc:
                self._messenger.error(f"{target.name} was not started: {exc}")
                return
            proceed()

        self.check(decide)

    # -- this computer as a worker ---------------------------------------------------------------------
    def start_worker(self) -> bool:
        runtime = self._runtime()
        if runtime is None or runtime.rpc_server is None:
            self._messenger.error("This llama.cpp runtime has no RPC worker (ggml-rpc-server).",
                                  details="Rebuild it with `llama-wrangler runtime install`: our builds include it.")
            return False
        pool = self._settings.settings.pool
        if not is_loopback(pool.worker_host):
            self._messenger.warning(exposure_warning(pool.worker_host))
        if self.worker is None:
            self.worker = WorkerSupervisor(runtime.rpc_server, log_file=self._paths.worker_log_file, parent=self)
            self.worker.state_changed.connect(lambda _old, new: self.worker_state_changed.emit(new))
            self.worker.error.connect(self._messenger.error)
        try:
            self.worker.start(WorkerOptions(host=pool.worker_host, port=pool.worker_port))
        except WranglerError as exc:
            self._messenger.report(exc)
            return False
        self._messenger.info(f"This computer is a pool worker on {pool.worker_host}:{pool.worker_port}.")
        return True

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    @property
    def worker_running(self) -> bool:
        return self.worker is not None and self.worker.state in (ServerState.STARTING, ServerState.READY)

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.shutdown()
