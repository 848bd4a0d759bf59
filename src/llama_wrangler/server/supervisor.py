"""The one owner of the running llama-server: start, health-check, hot-swap, stop, crash handling.

Design (after llama-swap's ``process.go``): an explicit state machine (:class:`~.state.ServerState`), every
change emitted as ``state_changed(old, new)``. Callers say what they *want* (a model, or nothing); the
supervisor reconciles the process towards it one step at a time, so any order of calls is safe, and at most
one llama-server exists at any moment (stop, then start). Several models at once are several supervisors
(:mod:`.fleet`). The parts: :class:`~.process.ServerProcess`, :class:`~.health.ReadinessProbe`,
:class:`~.drain.StopDrain`, :class:`~.restart_policy.RestartPolicy` (restarts of a server that crashed
*after* being ready), :class:`~.backend.ServerBackend` (llama-server or the llama-cpp-python fallback).

Each launch is a :class:`~.run.ServerRun` with a generation number; readiness replies for any other
generation are dropped. ``endpoint`` is non-empty only while the current run is ready. Stopping a ready
server is TERM, then KILL after ``stop_grace_s``; a server not ready yet gets KILL at once.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from llama_wrangler.errors import ServerError
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.argv import RpcPlan
from llama_wrangler.server.backend import ServerBackend, server_backend
from llama_wrangler.server.drain import DrainHook, StopDrain
from llama_wrangler.server.health import ReadinessProbe
from llama_wrangler.server.process import NOTE_PREFIX, ProcessOutcome
from llama_wrangler.server.restart_policy import RestartPolicy
from llama_wrangler.server.run import ServerRun, ServeTarget, prepare_run
from llama_wrangler.server.state import ServerState
from llama_wrangler.settings import ServerSettings

log = logging.getLogger(__name__)

LOG_RING_LINES, QUIT_GRACE_CAP_S = 2000, 3.0

class ServerSupervisor(QObject):
    """Owns one llama-server process at a time.

    Signals:
        state_changed(str old, str new): every state change, in order.
        endpoint_changed(str): base URL of the ready server, '' when there is none.
        log_line(str): one line of server output.
        error(str): a message for the user (start failure, crash, restart limit).
    """

    state_changed = Signal(str, str)
    endpoint_changed = Signal(str)
    log_line = Signal(str)
    error = Signal(str)

    def __init__(self, server: Path | LlamaRuntime, settings: ServerSettings, *, log_file: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = server
        self._rpc: RpcPlan | None = None
        self._backend: ServerBackend = server_backend(server)
        self._settings = settings
        self._log_path = log_file
        self._state = ServerState.STOPPED
        self._endpoint = ""
        self._client_url = ""
        self._props: dict[str, Any] = {}
        self._last_error = ""
        self._desired: ServeTarget | None = None
        self._force_restart = False
        self._run: ServerRun | None = None
        self._last_target: ServeTarget | None = None
        self._generation = 0
        self._log_ring: deque[str] = deque(maxlen=LOG_RING_LINES)
        self._restarts = RestartPolicy()

        self._probe = ReadinessProbe(self)
        self._probe.loading.connect(self._on_loading)
        self._probe.ready.connect(self._on_ready)
        self._probe.timed_out.connect(self._on_ready_timeout)
        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.timeout.connect(self._reconcile)
        self._drain = StopDrain(self)
        self._drain.finished.connect(self._on_drained)

        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ----------------------------------------------------------------- public surface
    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def endpoint(self) -> str:
        """Base URL (``http://127.0.0.1:8080``) of the server that is running *and ready*, else ''."""
        return self._endpoint

    @property
    def client_endpoint(self) -> str:
        """The address clients should use while the server is ready: the stable endpoint in front of it
        when one is set (:meth:`set_client_url`), else ``endpoint``; '' when not ready."""
        return (self._client_url or self._endpoint) if self._endpoint else ""

    def set_client_url(self, url: str) -> None:
        """Base URL of a proxy in front of this server ('' for none); shown to users instead of ours."""
        self._client_url = url

    @property
    def model_id(self) -> str:
        """Id of the model the current process serves (or is loading); '' when none runs."""
        return self._run.target.model_id if self._run is not None else ""

    @property
    def wanted_model_id(self) -> str:
        """Id of the model the supervisor is working towards ('' when it was told to stop): while one
        model replaces another this is already the new model while ``model_id`` is still the old one."""
        return self._desired.model_id if self._desired is not None else ""

    @property
    def model_path(self) -> Path | None:
        return self._run.target.model_path if self._run is not None else None

    @property
    def props(self) -> dict[str, Any]:
        """``/props`` of the ready server ({} otherwise)."""
        return dict(self._props)

    @property
    def context_size(self) -> int | None:
        """The real context size (``default_generation_settings.n_ctx``) of the ready server."""
        value = self._props.get("default_generation_settings", {}).get("n_ctx")
        return value if isinstance(value, int) else None

    @property
    def pid(self) -> int | None:
        return (self._run.process.pid or None) if self._run is not None else None

    @property
    def last_error(self) -> str:
        return self._last_error

    @property
    def restart_scheduled(self) -> bool:  # an automatic restart after a crash waits for its backoff
        return self._restart_timer.isActive()

    @property
    def restart_in_ms(self) -> int:  # until the scheduled automatic restart; -1 when none is
        return self._restart_timer.remainingTime() if self._restart_timer.isActive() else -1

    @property
    def settings(self) -> ServerSettings:
        return self._settings

    def set_settings(self, settings: ServerSettings) -> None:
        """New settings apply from the next start (use :meth:`restart` to apply them now)."""
        self._settings = settings

    def set_server_binary(self, server: Path | LlamaRuntime) -> None:
        """The llama-server to run from the next start: a binary, or a located runtime (which may be the
        llama-cpp-python fallback server, driven with its own flags and readiness URL)."""
        self._server = server
        self._backend = server_backend(server, rpc=self._rpc)

    @property
    def server_binary(self) -> Path | LlamaRuntime:
        return self._server

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    @property
    def rpc(self) -> RpcPlan | None:  # the RPC workers models are split across (None: this computer only)
        return self._rpc

    def set_rpc(self, plan: RpcPlan | None) -> None:
        """Split models across these RPC workers from the next start; ServerError for the fallback server."""
        self._backend, self._rpc = server_backend(self._server, rpc=plan), plan

    def set_drain_hook(self, hook: DrainHook | None) -> None:
        """Before a *ready* server is stopped, ``hook(endpoint, done)`` lets its requests finish (see StopDrain)."""
        self._drain.set_hook(hook)

    def log_lines(self) -> list[str]:
        """The last server output lines (up to 2,000), oldest first."""
        return list(self._log_ring)

    def start(self, model_path: Path, model_id: str, mmproj: Path | None = None,
              load: LoadSettings | None = None) -> None:
        """Serve ``model_path`` (with its projector ``mmproj``, its own ``load`` settings). If another model
        (or this one with other settings) runs, it is stopped first (a swap; the last call wins)."""
        self._desired = ServeTarget(Path(model_path).absolute(), model_id,
                                    Path(mmproj).absolute() if mmproj is not None else None, load)
        self._restarts.reset()
        self._restart_timer.stop()
        self._reconcile()

    def restart(self) -> None:
        """Start the current (or last) model again in a fresh process, e.g. to apply new settings."""
        target = self._desired or self._last_target
        if target is None:
            return
        self._desired = target
        self._force_restart = self._run is not None
        self._restarts.reset()
        self._restart_timer.stop()
        self._reconcile()

    def stop(self) -> None:
        """Stop the server: SIGTERM to its process group, then SIGKILL after the grace period (a server
        that is not ready yet gets SIGKILL at once). Idempotent."""
        self._desired = None
        self._force_restart = False
        self._restart_timer.stop()
        if self._run is None:
            if self._state is ServerState.CRASHED:
                self._set_state(ServerState.STOPPED)
            return
        self._reconcile()

    @Slot()
    def shutdown(self) -> None:
        """Stop now and wait for the process (app quit: the event loop is ending, so this may block
        for at most a few seconds)."""
        self._desired = None
        self._restart_timer.stop()
        run = self._run
        if run is None:
            return
        if self._state is not ServerState.STOPPING:
            self._begin_stop(run, drain=False)
        elif self._drain.active:  # quitting: no time to let requests finish
            self._end_drain(run)
        # Quitting: no event loop will run again, so waiting here is the only way to reap it.
        run.process.reap(int(min(self._settings.stop_grace_s, QUIT_GRACE_CAP_S) * 1000))

    # ----------------------------------------------------------------- reconciliation
    @Slot()
    def _reconcile(self) -> None:
        run = self._run
        if run is not None:
            if self._state is ServerState.STOPPING:
                return  # the next step happens when it exits
            if self._desired is None or self._desired != run.target or self._force_restart:
                self._begin_stop(run)
            return
        self._force_restart = False
        if self._desired is not None and not self._restart_timer.isActive():
            self._launch(self._desired)

    def _launch(self, target: ServeTarget) -> None:
        self._generation += 1
        try:
            run = prepare_run(self._backend, self._settings, target, self._generation, log_path=self._log_path,
                              parent=self)
        except (ServerError, ValueError) as exc:
            self._desired = None
            self._last_target = target
            self._fail(str(exc))
            return
        process = run.process
        # Plain slots + sender(), not closures over the run: see ServerProcess on PySide6 and closures.
        process.line.connect(self._on_process_line)
        process.started.connect(self._on_process_started)
        process.finished.connect(self._on_process_finished)
        self._run = run
        self._last_target = target
        self._props = {}
        process.note(f"starting {target.model_id} ({target.model_path}) on {run.base_url}")
        self._set_state(ServerState.STARTING)
        process.start()

    # ----------------------------------------------------------------- process events
    def _sender_run(self) -> ServerRun | None:
        """The current run if the signal came from its process, else None (an old process)."""
        run = self._run
        return run if run is not None and self.sender() is run.process else None

    @Slot(str)
    def _on_process_line(self, line: str) -> None:
        if self._sender_run() is not None:
            self._append_log(line)

    @Slot()
    def _on_process_started(self) -> None:
        run = self._sender_run()
        if run is not None and self._state is not ServerState.STOPPING:
            self._probe.watch(run.generation, run.base_url, ready_path=run.backend.ready_path,
                              reads_props=run.backend.reads_props, deadline=run.deadline,
                              api_key=self._settings.api_key)

    @Slot(object)
    def _on_process_finished(self, outcome: ProcessOutcome) -> None:
        run = self._sender_run()
        if run is not None:
            self._on_finished(run, outcome)

    def _on_finished(self, run: ServerRun, outcome: ProcessOutcome) -> None:
        was = self._state
        self._run = None
        self._probe.cancel()
        self._drain.cancel()
        run.process.deleteLater()
        self._set_endpoint("")
        self._props = {}
        if was is ServerState.STOPPING and run.failure is None:
            self._set_state(ServerState.STOPPED)
            self._reconcile()
            return
        message = run.exit_message(outcome, was_ready=was is ServerState.READY)
        if self._desired == run.target:
            self._desired = None
        self._fail(message)
        if was is ServerState.READY and self._settings.auto_restart and self._desired is None:
            self._schedule_auto_restart(run.target)
        self._reconcile()

    def _schedule_auto_restart(self, target: ServeTarget) -> None:
        delay = self._restarts.next_delay()
        if delay is None:
            self._report(RestartPolicy.give_up_message())
            return
        self._desired = target
        self._append_log(f"{NOTE_PREFIX}restarting in {delay:g} s")
        self._restart_timer.start(int(delay * 1000))

    # ----------------------------------------------------------------- readiness
    def _probed_run(self, generation: int) -> ServerRun | None:
        """The current run if ``generation`` is its own and it is still coming up, else None."""
        run = self._run
        if run is None or run.generation != generation:
            return None
        return run if self._state in (ServerState.STARTING, ServerState.LOADING) else None

    @Slot(int)
    def _on_loading(self, generation: int) -> None:
        if self._probed_run(generation) is not None and self._state is ServerState.STARTING:
            self._set_state(ServerState.LOADING)

    @Slot(int)
    def _on_ready_timeout(self, generation: int) -> None:
        run = self._probed_run(generation)
        if run is not None:
            run.failure = f"llama-server did not become ready within {self._settings.health_timeout_s:g} s."
            run.failure += run.tail_text()
            self._begin_stop(run)

    @Slot(int, object)
    def _on_ready(self, generation: int, props: dict[str, Any]) -> None:
        run = self._probed_run(generation)
        if run is None:
            return
        run.failure = run.foreign_server(props)
        if run.failure is not None:  # someone else's server answered on our port: never call that ready
            self._begin_stop(run)
            return
        self._props = props
        self._last_error = ""
        # Both are true from this instant, so listeners of either signal see a consistent pair.
        self._endpoint = run.base_url
        self._set_state(ServerState.READY)
        self.endpoint_changed.emit(self._endpoint)

    # ----------------------------------------------------------------- stopping
    def _begin_stop(self, run: ServerRun, *, drain: bool = True) -> None:
        was_ready = self._state is ServerState.READY
        self._probe.cancel()
        self._set_endpoint("")
        self._props = {}
        self._set_state(ServerState.STOPPING)
        if not run.process.running:
            return  # never got going (or exit already queued): its finished signal completes the stop
        # A swap lets running generations finish (drain_timeout_s); a plain stop waits stop_grace_s at most.
        cap = self._settings.drain_timeout_s if self._desired is not None else self._settings.stop_grace_s
        if drain and was_ready and self._drain.begin(run.generation, run.base_url, cap):
            return
        run.process.stop(ready=was_ready, grace_s=self._settings.stop_grace_s)

    @Slot(int, bool)
    def _on_drained(self, generation: int, timed_out: bool) -> None:
        run = self._run
        if run is not None and run.generation == generation:
            if timed_out:
                run.process.note("requests still running after the grace period; stopping")
            self._end_drain(run)

    def _end_drain(self, run: ServerRun) -> None:
        self._drain.cancel()
        if run.process.running:
            run.process.stop(ready=True, grace_s=self._settings.stop_grace_s)  # only a ready one drains

    # ----------------------------------------------------------------- helpers
    def _fail(self, message: str) -> None:
        self._set_state(ServerState.CRASHED)
        self._report(message)

    def _report(self, message: str) -> None:
        self._last_error = message
        log.warning("%s", message)
        self.error.emit(message)

    def _set_state(self, new: ServerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        self.state_changed.emit(str(old), str(new))

    def _set_endpoint(self, endpoint: str) -> None:
        if endpoint != self._endpoint:
            self._endpoint = endpoint
            self.endpoint_changed.emit(endpoint)

    def _append_log(self, line: str) -> None:
        self._log_ring.append(line)
        self.log_line.emit(line)
