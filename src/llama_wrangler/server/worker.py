"""This computer as a pool worker: ``ggml-rpc-server`` run and watched like llama-server is.

:class:`WorkerSupervisor` starts the RPC worker with :class:`ServerProcess` (own process group, log file,
TERM→grace→KILL, killed with the app), calls it ready once it accepts TCP connections (it has no HTTP
health route), and restarts it after a crash within :class:`RestartPolicy`'s bounds. ``llama-wrangler
worker`` runs it in the foreground; the tray starts and stops it in the app.

llama.cpp warns that the RPC server must never face an open network (anyone who reaches the port can make
it allocate memory and run graphs). The worker binds 127.0.0.1 unless told otherwise; :func:`exposure_warning`
is what we print when it is told otherwise.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtNetwork import QAbstractSocket, QTcpSocket

from llama_wrangler.errors import ServerError
from llama_wrangler.server.ports import connect_host, port_is_free
from llama_wrangler.server.process import NOTE_PREFIX, ProcessOutcome, ServerProcess
from llama_wrangler.server.restart_policy import RestartPolicy
from llama_wrangler.server.state import ServerState

log = logging.getLogger(__name__)

READY_POLL_MS = 100
READY_TIMEOUT_S = 30.0  # it only enumerates devices before listening: seconds at most
STOP_GRACE_S = 3.0


@dataclass(frozen=True)
class WorkerOptions:
    host: str = "127.0.0.1"
    port: int = 50052
    threads: int = 0  # 0: its own default (all cores)
    cache: bool = False  # keep tensors sent to it in a local file cache (faster reloads of one model)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def argv(self, program: Path) -> list[str]:
        argv = [str(program), "--host", self.host, "--port", str(self.port)]
        if self.threads > 0:
            argv += ["--threads", str(self.threads)]
        if self.cache:
            argv.append("--cache")
        return argv


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str:
    """What to tell a user who binds a worker to anything but loopback."""
    return (f"WARNING: the worker listens on {host}, not 127.0.0.1. llama.cpp's RPC server has no "
            "authentication and no encryption: anyone who can reach the port can use this computer's "
            "memory and processors, and crash it. Only do this on a private network you trust, or keep it on "
            "127.0.0.1 and reach it through an SSH tunnel (ssh -L 50052:127.0.0.1:50052 this-host) or a "
            "WireGuard/Tailscale link.")


class WorkerSupervisor(QObject):
    """Runs one RPC worker.

    Signals:
        state_changed(str old, str new): a :class:`ServerState` (LOADING is not used).
        log_line(str): the worker's output and our notes.
        error(str): why it stopped or could not start, written for a user.
    """

    state_changed = Signal(str, str)
    log_line = Signal(str)
    error = Signal(str)

    def __init__(self, program: Path, *, log_file: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._program = program
        self._log_file = log_file
        self._state = ServerState.STOPPED
        self._options = WorkerOptions()
        self._process: ServerProcess | None = None
        self._wanted = False
        self._switching = False  # stopping only to start again with other options
        self._deadline_polls = 0
        self._restarts = RestartPolicy()
        self._probe: QTcpSocket | None = None
        self._poll = QTimer(self)
        self._poll.setSingleShot(True)
        self._poll.timeout.connect(self._check_listening)
        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.timeout.connect(self._launch)

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def options(self) -> WorkerOptions:
        return self._options

    @property
    def restart_scheduled(self) -> bool:
        return self._restart_timer.isActive()

    def start(self, options: WorkerOptions) -> None:
        """Start the worker (restart it when it already runs with other options)."""
        if not self._program.is_file():
            raise ServerError(f"The RPC worker binary was not found at {self._program}.",
                              hint="Rebuild the llama.cpp runtime (`llama-wrangler runtime install`): the "
                              "current build includes ggml-rpc-server.")
        if self._process is not None and options == self._options:
            return
        if not port_is_free(options.host, options.port):
            raise ServerError(f"Port {options.port} on {options.host} is already in use.",
                              hint="Choose another port with --port (and the same one in the pool's list).")
        self._options = options
        self._wanted = True
        self._restarts.reset()
        if self._process is not None:
            self._switching = True  # _on_finished starts the new one
            self._set_state(ServerState.STOPPING)
            self._process.terminate(STOP_GRACE_S)
            return
        self._launch()

    def stop(self) -> None:
        self._wanted = False
        self._switching = False
        self._restart_timer.stop()
        self._poll.stop()
        if self._process is not None:
            self._set_state(ServerState.STOPPING)
            self._process.terminate(STOP_GRACE_S)
        elif self._state is not ServerState.STOPPED:
            self._set_state(ServerState.STOPPED)

    def shutdown(self) -> None:
        """Stop and wait (app quit only: no event loop runs afterwards)."""
        self.stop()
        if self._process is not None:
            self._process.reap(int(STOP_GRACE_S * 1000) + 1000)

    # ----------------------------------------------------------------- internals
    @Slot()
    def _launch(self) -> None:
        if not self._wanted or self._process is not None:
            return
        process = ServerProcess(self._options.argv(self._program), what="ggml-rpc-server",
                                log_path=self._log_file, parent=self)
        process.line.connect(self.log_line)
        process.finished.connect(self._on_finished)
        self._process = process
        self._set_state(ServerState.STARTING)
        process.note(f"starting the RPC worker on {self._options.address}")
        process.start()
        self._deadline_polls = int(READY_TIMEOUT_S * 1000 / READY_POLL_MS)
        self._poll.start(READY_POLL_MS)

    @Slot()
    def _check_listening(self) -> None:
        if self._process is None or self._state is not ServerState.STARTING:
            return
        self._deadline_polls -= 1
        if self._deadline_polls < 0:
            self.error.emit(f"The RPC worker did not start listening on {self._options.address} within "
                            f"{READY_TIMEOUT_S:g} s.")
            self._process.kill()
            return
        probe = QTcpSocket(self)
        probe.connected.connect(self._on_probe_connected)
        probe.errorOccurred.connect(self._on_probe_failed)
        self._probe = probe
        probe.connectToHost(connect_host(self._options.host), self._options.port)

    @Slot()
    def _on_probe_connected(self) -> None:
        self._drop_probe()
        if self._state is ServerState.STARTING:
            self._set_state(ServerState.READY)

    @Slot(QAbstractSocket.SocketError)
    def _on_probe_failed(self, _error: QAbstractSocket.SocketError) -> None:
        self._drop_probe()
        if self._state is ServerState.STARTING:
            self._poll.start(READY_POLL_MS)

    def _drop_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.abort()
            probe.deleteLater()

    @Slot(object)
    def _on_finished(self, outcome: ProcessOutcome) -> None:
        was = self._state
        process, self._process = self._process, None
        if process is not None:
            tail = [line for line in process.tail() if not line.startswith(NOTE_PREFIX)][-5:]
            process.deleteLater()
        else:
            tail = []
        self._poll.stop()
        if not self._wanted:
            self._set_state(ServerState.STOPPED)
            return
        if self._switching:
            self._switching = False
            self._launch()
            return
        message = f"The RPC worker on {self._options.address} stopped: {outcome}"
        if tail:
            message += " Last output: " + " | ".join(tail)
        self._set_state(ServerState.CRASHED)
        self.error.emit(message)
        log.warning("%s", message)
        delay = self._restarts.next_delay() if was is ServerState.READY else None
        if delay is not None:
            self.log_line.emit(f"{NOTE_PREFIX}restarting the worker in {delay:g} s")
            self._restart_timer.start(int(delay * 1000))
        else:
            self._wanted = False

    def _set_state(self, new: ServerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        self.state_changed.emit(old.value, new.value)
