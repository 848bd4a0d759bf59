"""The one owner of the running llama-server: start, health-check, hot-swap, stop, crash handling.

Design (after llama-swap's ``process.go``): an explicit state machine owned by this object, every change
emitted as ``state_changed(old, new)``. Callers say what they *want* (a model, or nothing); the supervisor
reconciles the running process towards it one step at a time, so any order of calls is safe — a swap
during a start stops the starting server first, two swaps in a row end on the last model, and at most one
llama-server exists at any moment (stop, then start: memory-safe).

Each launched process is a :class:`_Run` with a generation number. Health and ``/props`` replies carry
the run they were sent for and are dropped when it is no longer the current run, so a reply from an old
server can never mark a new one ready. ``endpoint`` is non-empty only while the current run is ready.

States: ``stopped`` nothing runs; ``starting`` spawned, HTTP not up yet; ``loading`` HTTP up, ``/health``
says 503; ``ready`` ``/health`` 200 and ``/props`` read; ``stopping`` signal sent, waiting for exit (TERM,
then KILL after ``stop_grace_s``, for a ready server; KILL at once for one that is not ready yet);
``crashed`` the server died or could not start (``last_error`` says why; ``error`` was emitted).
``stop()`` from ``crashed`` acknowledges it and returns to ``stopped``.

A *drain hook* (:meth:`set_drain_hook`, used by the stable endpoint) lets requests still running on a
ready server finish before it is signalled: the state is ``stopping`` and the endpoint '' at once, and the
signal follows when the hook calls back, or after ``stop_grace_s`` at the latest.

Automatic restart (``server.auto_restart``) applies only to a server that crashed *after* being ready,
with 1/2/4 s backoff and at most 3 restarts within 60 s; a model that fails to load is never retried.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QProcess, QTimer, QUrl, Signal, Slot
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkProxy, QNetworkReply, QNetworkRequest

from llama_wrangler.errors import ServerError
from llama_wrangler.runtime import pyserver
from llama_wrangler.runtime.locate import LlamaRuntime
from llama_wrangler.server import lifetime
from llama_wrangler.server.argv import build_server_argv
from llama_wrangler.server.ports import choose_port, connect_host, url_host
from llama_wrangler.settings import ServerSettings

log = logging.getLogger(__name__)

LOG_RING_LINES = 2000
ERROR_TAIL_LINES = 15
HEALTH_POLL_MS = 20  # between a reply and the next request; the brief's bound is 50 ms
HEALTH_REQUEST_TIMEOUT_MS = 2000
PROPS_TIMEOUT_MS = 5000
RESTART_WINDOW_S = 60.0
MAX_RESTARTS_IN_WINDOW = 3
RESTART_BACKOFF_S = (1.0, 2.0, 4.0)
SERVER_LOG_MAX_BYTES = 5 * 1024 * 1024
SERVER_LOG_BACKUPS = 2
QUIT_GRACE_CAP_S = 3.0

_GENERATION_ATTRIBUTE = QNetworkRequest.Attribute.User
_KIND_ATTRIBUTE = QNetworkRequest.Attribute(QNetworkRequest.Attribute.User.value + 1)
_HEALTH, _PROPS = "health", "props"

# (endpoint of the server about to stop, done callback that may be called from any thread)
DrainHook = Callable[[str, Callable[[], None]], None]


class ServerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    STOPPING = "stopping"
    CRASHED = "crashed"


@dataclass(frozen=True)
class _Target:
    model_path: Path
    model_id: str


@dataclass(eq=False)
class _Run:
    """One launched llama-server process and what we know about it."""

    generation: int
    target: _Target
    process: QProcess
    host: str
    port: int
    deadline: float
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=ERROR_TAIL_LINES))
    partial_line: str = ""
    pid: int = 0
    ready: bool = False
    stopping: bool = False
    draining: bool = False  # stopping, but the stop signal waits for its requests to finish
    failure: str | None = None  # set when *we* gave up on it (timeout, wrong server); reported at exit
    log_file: logging.Handler | None = None

    @property
    def base_url(self) -> str:
        return f"http://{url_host(connect_host(self.host))}:{self.port}"


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
    _drained = Signal(int)  # a drain hook's callback, from any thread; handled on ours

    def __init__(self, server: Path | LlamaRuntime, settings: ServerSettings, *, log_file: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server_binary = Path()
        self._pyserver = False
        self.set_server_binary(server)
        self._settings = settings
        self._log_path = log_file
        self._state = ServerState.STOPPED
        self._endpoint = ""
        self._client_url = ""
        self._props: dict[str, Any] = {}
        self._last_error = ""
        self._desired: _Target | None = None
        self._force_restart = False
        self._run: _Run | None = None
        self._last_target: _Target | None = None
        self._generation = 0
        self._log_ring: deque[str] = deque(maxlen=LOG_RING_LINES)
        self._restart_times: deque[float] = deque()

        self._network = QNetworkAccessManager(self)
        self._network.setProxy(QNetworkProxy(QNetworkProxy.ProxyType.NoProxy))  # loopback: never a proxy
        self._network.finished.connect(self._on_reply)
        self._poll_timer = QTimer(self)
        self._poll_timer.setSingleShot(True)
        self._poll_timer.timeout.connect(self._poll_health)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill_now)
        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.timeout.connect(self._reconcile)
        self._drain_hook: DrainHook | None = None
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.timeout.connect(self._on_drain_timeout)
        self._drained.connect(self._on_drained)

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
        """Id of the model the supervisor is working towards ('' when it was told to stop): during a swap
        this is already the new model while ``model_id`` is still the old one."""
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
        if self._run is None or not self._run.pid:
            return None
        return self._run.pid

    @property
    def last_error(self) -> str:
        return self._last_error

    @property
    def restart_scheduled(self) -> bool:
        """True while an automatic restart after a crash is waiting for its backoff."""
        return self._restart_timer.isActive()

    @property
    def settings(self) -> ServerSettings:
        return self._settings

    def set_settings(self, settings: ServerSettings) -> None:
        """New settings apply from the next start (use :meth:`restart` to apply them now)."""
        self._settings = settings

    def set_server_binary(self, server: Path | LlamaRuntime) -> None:
        """The llama-server to run from the next start: a binary, or a located runtime (which may be the
        llama-cpp-python fallback server, driven with its own flags and readiness URL)."""
        if isinstance(server, LlamaRuntime):
            self._server_binary = server.server
            self._pyserver = pyserver.is_pyserver(server)
        else:
            self._server_binary = Path(server)
            self._pyserver = False

    def set_drain_hook(self, hook: DrainHook | None) -> None:
        """Before a *ready* server is signalled to stop, call ``hook(endpoint, done)`` and wait for ``done()``
        (at most ``stop_grace_s``), so requests already sent to it can finish."""
        self._drain_hook = hook

    def log_lines(self) -> list[str]:
        """The last server output lines (up to 2,000), oldest first."""
        return list(self._log_ring)

    def start(self, model_path: Path, model_id: str) -> None:
        """Serve ``model_path``. If another model runs, this is a swap; if this one does, nothing happens."""
        self._desired = _Target(Path(model_path).absolute(), model_id)
        self._restart_times.clear()
        self._restart_timer.stop()
        self._reconcile()

    def swap(self, model_path: Path, model_id: str) -> None:
        """Stop the running server (if any), then start ``model_path``. The last call wins."""
        self.start(model_path, model_id)

    def restart(self) -> None:
        """Start the current (or last) model again in a fresh process, e.g. to apply new settings."""
        target = self._desired or self._last_target
        if target is None:
            return
        self._desired = target
        self._force_restart = self._run is not None
        self._restart_times.clear()
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
        if not run.stopping:
            self._begin_stop(run, drain=False)
        elif run.draining:  # quitting: no time to let requests finish
            self._end_drain(run)
        if run.process.state() != QProcess.ProcessState.NotRunning:
            grace_ms = int(min(self._settings.stop_grace_s, QUIT_GRACE_CAP_S) * 1000)
            # Quitting: no event loop will run again, so waiting here is the only way to reap it.
            if not run.process.waitForFinished(grace_ms):
                self._kill_now()
                run.process.waitForFinished(2000)
        if self._run is run:  # finished() was not delivered synchronously: finish the books here
            self._on_finished(run, run.process.exitCode(), run.process.exitStatus())

    # ----------------------------------------------------------------- reconciliation
    @Slot()
    def _reconcile(self) -> None:
        run = self._run
        if run is not None:
            if run.stopping:
                return  # the next step happens when it exits
            if self._desired is None or self._desired != run.target or self._force_restart:
                self._begin_stop(run)
            return
        self._force_restart = False
        if self._desired is not None and not self._restart_timer.isActive():
            self._launch(self._desired)

    def _launch(self, target: _Target) -> None:
        settings = self._settings
        try:
            if not self._server_binary.is_file():
                raise ServerError(f"llama-server was not found at {self._server_binary}.",
                                  hint="Install or build the llama.cpp runtime first.")
            if not target.model_path.is_file():
                raise ServerError(f"The model file {target.model_path} does not exist.")
            port = choose_port(settings.host, settings.port, settings.port_conflict)
            if self._pyserver:
                argv = pyserver.pyserver_argv(
                    self._server_binary, target.model_path, host=settings.host, port=port,
                    n_ctx=settings.context_size, model_alias=target.model_id,
                    n_gpu_layers=settings.gpu_layers, n_threads=settings.threads, api_key=settings.api_key)
            else:
                argv = build_server_argv(self._server_binary, settings, target.model_path,
                                         target.model_id, port)
        except (ServerError, ValueError) as exc:
            self._desired = None
            self._last_target = target
            self._fail(str(exc))
            return

        self._generation += 1
        process = QProcess(self)
        prefix = lifetime.launch_prefix()
        full = prefix + argv
        process.setProgram(full[0])
        process.setArguments(full[1:])
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.setStandardInputFile(QProcess.nullDevice())
        if os.name != "nt":
            flags = QProcess.UnixProcessFlag
            # Own session = own process group, so stop() can signal the server and anything it spawns.
            process.setUnixProcessParameters(flags.CreateNewSession | flags.ResetSignalHandlers
                                             | flags.IgnoreSigPipe | flags.CloseFileDescriptors)
        run = _Run(generation=self._generation, target=target, process=process, host=settings.host,
                   port=port, deadline=time.monotonic() + settings.health_timeout_s)
        run.log_file = self._open_log_file()
        # Plain slots + sender(), not closures over the run: a closure held by the process's own
        # connection makes a reference cycle through its wrapper that crashes PySide6 when the process
        # is deleted (seen as SIGBUS in ~QObject).
        process.readyReadStandardOutput.connect(self._on_process_output)
        process.finished.connect(self._on_process_finished)
        process.errorOccurred.connect(self._on_process_error_slot)
        process.started.connect(self._on_process_started)
        self._run = run
        self._last_target = target
        self._props = {}
        self._append_log(f"[llama-wrangler] starting {target.model_id} ({target.model_path}) on "
                         f"{run.base_url}", run)
        self._set_state(ServerState.STARTING)
        process.start()

    def _sender_run(self) -> _Run | None:
        """The current run if the signal came from its process, else None (an old process)."""
        run = self._run
        return run if run is not None and self.sender() is run.process else None

    @Slot()
    def _on_process_started(self) -> None:
        run = self._sender_run()
        if run is not None:
            self._on_started(run)

    @Slot()
    def _on_process_output(self) -> None:
        run = self._sender_run()
        if run is not None:
            self._on_output(run)

    @Slot(int, QProcess.ExitStatus)
    def _on_process_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        run = self._sender_run()
        if run is not None:
            self._on_finished(run, exit_code, exit_status)

    @Slot(QProcess.ProcessError)
    def _on_process_error_slot(self, error: QProcess.ProcessError) -> None:
        run = self._sender_run()
        if run is not None:
            self._on_process_error(run, error)

    def _on_started(self, run: _Run) -> None:
        run.pid = int(run.process.processId())
        if run.pid:
            lifetime.register_group(run.pid)
            if os.name == "nt":  # pragma: no cover
                lifetime.adopt_into_kill_job(run.pid)
        if not run.stopping:
            self._poll_timer.start(0)

    # ----------------------------------------------------------------- health and props
    @Slot()
    def _poll_health(self) -> None:
        run = self._run
        if run is None or run.stopping or run.ready:
            return
        if time.monotonic() > run.deadline:
            timeout = self._settings.health_timeout_s
            run.failure = (f"llama-server did not become ready within {timeout:g} s."
                           + self._tail_text(run))
            self._begin_stop(run)
            return
        path = pyserver.PYSERVER_READY_PATH if self._pyserver else pyserver.LLAMA_SERVER_READY_PATH
        request = QNetworkRequest(QUrl(f"{run.base_url}{path}"))
        request.setTransferTimeout(HEALTH_REQUEST_TIMEOUT_MS)
        self._authorize(request)
        self._send(request, run, _HEALTH)

    def _send(self, request: QNetworkRequest, run: _Run, kind: str) -> None:
        # The run's generation and the request's purpose travel with the request itself.
        request.setAttribute(_GENERATION_ATTRIBUTE, run.generation)
        request.setAttribute(_KIND_ATTRIBUTE, kind)
        self._network.get(request)

    @Slot(QNetworkReply)
    def _on_reply(self, reply: QNetworkReply) -> None:
        reply.deleteLater()
        run = self._run
        generation = reply.request().attribute(_GENERATION_ATTRIBUTE)
        if run is None or generation != run.generation or run.stopping or run.ready:
            return  # a reply for an older process: never let it describe the current one
        if reply.request().attribute(_KIND_ATTRIBUTE) == _PROPS:
            self._on_props_reply(run, reply)
        else:
            self._on_health_reply(run, reply)

    def _on_health_reply(self, run: _Run, reply: QNetworkReply) -> None:
        status = reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute)
        if status == 200:
            if self._pyserver:  # no /props there
                self._mark_ready(run, {})
            else:
                self._fetch_props(run)
            return
        if status == 503 and self._state is ServerState.STARTING:
            self._set_state(ServerState.LOADING)
        self._poll_timer.start(HEALTH_POLL_MS)

    def _fetch_props(self, run: _Run) -> None:
        request = QNetworkRequest(QUrl(f"{run.base_url}/props"))
        request.setTransferTimeout(PROPS_TIMEOUT_MS)
        self._authorize(request)
        self._send(request, run, _PROPS)

    def _authorize(self, request: QNetworkRequest) -> None:
        if self._settings.api_key:
            request.setRawHeader(b"Authorization", f"Bearer {self._settings.api_key}".encode())

    def _on_props_reply(self, run: _Run, reply: QNetworkReply) -> None:
        props: dict[str, Any] = {}
        if reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) == 200:
            try:
                parsed = json.loads(bytes(reply.readAll().data()))
            except (ValueError, UnicodeDecodeError):
                parsed = None
            if isinstance(parsed, dict):
                props = parsed
        served = props.get("model_path")
        if isinstance(served, str) and served and Path(served) != run.target.model_path:
            # Someone else's server answered on our port: never call that ready.
            run.failure = (f"Another server answered on port {run.port} (serving {served}), "
                           "not the one Llama Wrangler started.")
            self._begin_stop(run)
            return
        self._mark_ready(run, props)

    def _mark_ready(self, run: _Run, props: dict[str, Any]) -> None:
        run.ready = True
        self._props = props
        self._last_error = ""
        # Both are true from this instant, so listeners of either signal see a consistent pair.
        self._endpoint = run.base_url
        self._set_state(ServerState.READY)
        self.endpoint_changed.emit(self._endpoint)

    # ----------------------------------------------------------------- stopping
    def _begin_stop(self, run: _Run, *, drain: bool = True) -> None:
        run.stopping = True
        self._poll_timer.stop()
        endpoint = run.base_url
        self._set_endpoint("")
        self._props = {}
        self._set_state(ServerState.STOPPING)
        if run.process.state() == QProcess.ProcessState.NotRunning:
            return  # never got going (or exit already queued): finished/errorOccurred completes the stop
        if drain and run.ready and self._drain_hook is not None:
            run.draining = True
            generation = run.generation
            self._drain_timer.start(int(self._settings.stop_grace_s * 1000))
            self._drain_hook(endpoint, lambda: self._drained.emit(generation))
            return
        self._signal_stop(run)

    @Slot(int)
    def _on_drained(self, generation: int) -> None:
        run = self._run
        if run is not None and run.generation == generation and run.draining:
            self._end_drain(run)

    @Slot()
    def _on_drain_timeout(self) -> None:
        run = self._run
        if run is not None and run.draining:
            self._append_log("[llama-wrangler] requests still running after the grace period; stopping", run)
            self._end_drain(run)

    def _end_drain(self, run: _Run) -> None:
        run.draining = False
        self._drain_timer.stop()
        if run.process.state() != QProcess.ProcessState.NotRunning:
            self._signal_stop(run)

    def _signal_stop(self, run: _Run) -> None:
        if os.name == "nt":  # pragma: no cover - no process groups; llama-server has no WM_CLOSE handler
            run.process.kill()
            return
        pid = run.pid or int(run.process.processId())
        if not pid:
            run.process.kill()
        elif not run.ready:
            # Not ready: no client knows its endpoint and there is nothing to flush, and while it loads
            # SIGTERM's default action kills it exactly as SIGKILL does. SIGTERM is not safe here:
            # llama-server swallows one that lands after it installs its handler but before its task loop
            # starts (start_loop() sets `running` back to true after terminate() cleared it), and then
            # serves on as if never asked to stop.
            self._append_log("[llama-wrangler] stopping before ready: SIGKILL", run)
            lifetime.signal_group(pid, signal.SIGKILL)
        else:
            lifetime.signal_group(pid, signal.SIGTERM)
            grace_ms = int(self._settings.stop_grace_s * 1000)
            # A busy server may take long to wind down: SIGKILL after the grace period keeps stop() prompt.
            self._kill_timer.start(grace_ms)

    @Slot()
    def _kill_now(self) -> None:
        run = self._run
        if run is None or run.process.state() == QProcess.ProcessState.NotRunning:
            return
        pid = run.pid or int(run.process.processId())
        if pid and os.name != "nt":
            self._append_log("[llama-wrangler] no exit after SIGTERM; sending SIGKILL", run)
            lifetime.signal_group(pid, signal.SIGKILL)
        else:
            run.process.kill()

    # ----------------------------------------------------------------- process events
    def _on_output(self, run: _Run) -> None:
        data = bytes(run.process.readAllStandardOutput().data()).decode("utf-8", errors="replace")
        text = run.partial_line + data
        lines = text.split("\n")
        run.partial_line = lines.pop()
        for line in lines:
            self._append_log(line.rstrip("\r"), run)

    def _on_process_error(self, run: _Run, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart and run is self._run:
            # No finished() follows a failed start; finish the run here.
            reason = run.process.errorString()
            if not run.stopping:
                run.failure = f"llama-server could not be started: {reason}."
            self._on_finished(run, -1, QProcess.ExitStatus.CrashExit)

    def _on_finished(self, run: _Run, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if run is not self._run:
            return
        self._on_output(run)
        if run.partial_line:
            self._append_log(run.partial_line, run)
            run.partial_line = ""
        self._run = None
        self._kill_timer.stop()
        self._poll_timer.stop()
        self._drain_timer.stop()
        run.draining = False
        if run.pid:
            lifetime.unregister_group(run.pid)
        how = (f"exit code {exit_code}" if exit_status == QProcess.ExitStatus.NormalExit
               else "killed by a signal")
        self._append_log(f"[llama-wrangler] llama-server exited ({how})", run)
        if run.log_file is not None:
            run.log_file.close()
            run.log_file = None
        run.process.deleteLater()
        self._set_endpoint("")
        self._props = {}

        if run.stopping and run.failure is None:
            self._set_state(ServerState.STOPPED)
            self._reconcile()
            return
        if run.failure is not None:
            message = run.failure
        elif run.ready:
            message = f"llama-server crashed ({how})." + self._tail_text(run)
        else:
            message = f"llama-server exited during start ({how})." + self._tail_text(run)
        crashed_while_ready = run.ready and not run.stopping
        if self._desired == run.target:
            self._desired = None
        self._fail(message)
        if crashed_while_ready and self._settings.auto_restart and self._desired is None:
            self._schedule_auto_restart(run.target)
        self._reconcile()

    def _schedule_auto_restart(self, target: _Target) -> None:
        now = time.monotonic()
        while self._restart_times and now - self._restart_times[0] > RESTART_WINDOW_S:
            self._restart_times.popleft()
        if len(self._restart_times) >= MAX_RESTARTS_IN_WINDOW:
            self._restart_times.clear()
            self._report(f"llama-server crashed {MAX_RESTARTS_IN_WINDOW + 1} times within "
                         f"{RESTART_WINDOW_S:g} s; not restarting it again. Start it again when the "
                         "cause is fixed.")
            return
        delay = RESTART_BACKOFF_S[min(len(self._restart_times), len(RESTART_BACKOFF_S) - 1)]
        self._restart_times.append(now)
        self._desired = target
        self._append_log(f"[llama-wrangler] restarting in {delay:g} s", None)
        self._restart_timer.start(int(delay * 1000))

    # ----------------------------------------------------------------- helpers
    def _fail(self, message: str) -> None:
        self._set_state(ServerState.CRASHED)
        self._report(message)

    def _report(self, message: str) -> None:
        self._last_error = message
        log.warning("%s", message)
        self.error.emit(message)

    def _tail_text(self, run: _Run) -> str:
        lines = [line for line in run.tail if not line.startswith("[llama-wrangler]")]
        if not lines:
            return " It printed nothing."
        return " Last output:\n" + "\n".join(lines)

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

    def _append_log(self, line: str, run: _Run | None) -> None:
        self._log_ring.append(line)
        if run is not None:
            run.tail.append(line)
            if run.log_file is not None:
                run.log_file.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        self.log_line.emit(line)

    def _open_log_file(self) -> logging.Handler | None:
        if self._log_path is None:
            return None
        try:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                self._log_path, maxBytes=SERVER_LOG_MAX_BYTES, backupCount=SERVER_LOG_BACKUPS,
                encoding="utf-8")
        except OSError as exc:
            log.warning("cannot write the server log %s: %s", self._log_path, exc)
            return None
        handler.setFormatter(logging.Formatter("%(message)s"))
        return handler
