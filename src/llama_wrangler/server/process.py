"""One server process: started in a process group of its own, its output kept, stopped TERM -> KILL.

:class:`ServerProcess` owns its ``QProcess``; nothing else touches it. It launches the server through
:func:`lifetime.launch_prefix` (``setpriv --pdeathsig KILL`` on Linux, so the kernel kills the server if
the app dies) in its own session, so signals reach the server and anything it spawns. Every output line
and every note about the process goes to ``line`` and to the server log file; the last output lines are
kept for error messages. When it is gone, ``finished`` carries a :class:`ProcessOutcome` whose ``str()``
is written for a user.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal, Slot

from llama_wrangler.server import lifetime

log = logging.getLogger(__name__)

NOTE_PREFIX = "[llama-wrangler] "  # marks our own lines among the server's
ERROR_TAIL_LINES = 15
SERVER_LOG_MAX_BYTES = 5 * 1024 * 1024
SERVER_LOG_BACKUPS = 2


@dataclass(frozen=True)
class ProcessOutcome:
    """How a process ended. ``exit_code`` is None when a signal killed it or it never ran."""

    what: str
    exit_code: int | None = None
    start_error: str = ""  # why it could not be started at all

    @property
    def how(self) -> str:
        """``exit code 1`` or ``killed by a signal``."""
        return f"exit code {self.exit_code}" if self.exit_code is not None else "killed by a signal"

    def was_successful(self) -> bool:
        return self.exit_code == 0 and not self.start_error

    def __str__(self) -> str:
        if self.start_error:
            return f"{self.what} could not be started: {self.start_error}."
        return f"{self.what} exited ({self.how})."


class ServerProcess(QObject):
    """A server process, from start to exit. Single use: start it once.

    Signals:
        started(): the process runs; ``pid`` is known.
        line(str): one line of its output, or one of our notes about it (starting with ``NOTE_PREFIX``).
        finished(ProcessOutcome): it exited or could not start; emitted once, after its last ``line``.
    """

    started = Signal()
    line = Signal(str)
    finished = Signal(object)

    def __init__(self, argv: list[str], *, what: str = "llama-server", log_path: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._what = what
        self._pid = 0
        self._partial_line = ""
        self._tail: deque[str] = deque(maxlen=ERROR_TAIL_LINES)
        self._outcome: ProcessOutcome | None = None
        self._log_file = _open_log_file(log_path)

        full = lifetime.launch_prefix() + argv
        self._process = QProcess(self)
        self._process.setProgram(full[0])
        self._process.setArguments(full[1:])
        self._process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self._process.setStandardInputFile(QProcess.nullDevice())
        if os.name != "nt":
            flags = QProcess.UnixProcessFlag
            # Own session = own process group, so a stop reaches the server and anything it spawns.
            self._process.setUnixProcessParameters(flags.CreateNewSession | flags.ResetSignalHandlers
                                                   | flags.IgnoreSigPipe | flags.CloseFileDescriptors)
        # Plain slots, never closures or partials: a closure held by the process's own connection makes a
        # reference cycle through its wrapper that crashes PySide6 when the process is deleted (seen as
        # SIGBUS in ~QObject).
        self._process.readyReadStandardOutput.connect(self._on_output)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._process.started.connect(self._on_started)
        self._grace_timer = QTimer(self)
        self._grace_timer.setSingleShot(True)
        self._grace_timer.timeout.connect(self.escalate)

    @property
    def pid(self) -> int:
        """The process id once started (0 before)."""
        return self._pid

    @property
    def running(self) -> bool:
        """Started (or starting) and not yet reaped."""
        return self._outcome is None and self._process.state() != QProcess.ProcessState.NotRunning

    def tail(self) -> list[str]:
        """Its last output lines (our notes left out), oldest first."""
        return list(self._tail)

    def start(self) -> None:
        self._process.start()

    def note(self, text: str) -> None:
        """Add a line of our own to its log."""
        self._emit_line(NOTE_PREFIX + text)

    def stop(self, *, ready: bool, grace_s: float) -> None:
        """End it: a ready server is asked to exit (:meth:`terminate`), one not ready yet is killed."""
        if ready:
            self.terminate(grace_s)
            return
        # Not ready: no client knows its endpoint and there is nothing to flush, and while it loads
        # SIGTERM's default action kills it exactly as SIGKILL does. SIGTERM is not safe here:
        # llama-server swallows one that lands after it installs its handler but before its task loop
        # starts (start_loop() sets `running` back to true after terminate() cleared it), and then
        # serves on as if never asked to stop.
        self.note("stopping before ready: SIGKILL")
        self.kill()

    def terminate(self, grace_s: float) -> None:
        """Ask it to exit (SIGTERM to its group); SIGKILL follows if it is still there after ``grace_s``."""
        if os.name == "nt":  # pragma: no cover - no process groups; llama-server has no WM_CLOSE handler
            self._process.kill()
            return
        pid = self._group_leader()
        if not pid:
            self._process.kill()
            return
        lifetime.signal_group(pid, signal.SIGTERM)
        # A busy server may take long to wind down: SIGKILL after the grace period keeps a stop prompt.
        self._grace_timer.start(int(grace_s * 1000))

    def kill(self) -> None:
        """SIGKILL its whole group now."""
        pid = self._group_leader()
        if pid and os.name != "nt":
            lifetime.signal_group(pid, signal.SIGKILL)
        else:
            self._process.kill()

    @Slot()
    def escalate(self) -> None:
        """SIGKILL it if it is still running after being asked to exit."""
        if not self.running:
            return
        if self._group_leader() and os.name != "nt":
            self.note("no exit after SIGTERM; sending SIGKILL")
        self.kill()

    def reap(self, timeout_ms: int) -> None:
        """Block until it exits, SIGKILLing it after ``timeout_ms``, and report the exit (``finished``)
        before returning. Only for app quit, when no event loop will run again to deliver it."""
        if self.running and not self._process.waitForFinished(timeout_ms):
            self.escalate()
            self._process.waitForFinished(2000)
        if self._outcome is None:  # Qt did not deliver finished synchronously
            self._finish(self._exit_code(self._process.exitCode(), self._process.exitStatus()))

    def _group_leader(self) -> int:
        return self._pid or int(self._process.processId())

    # ----------------------------------------------------------------- QProcess events
    @Slot()
    def _on_started(self) -> None:
        self._pid = int(self._process.processId())
        if self._pid:
            lifetime.register_group(self._pid)
            if os.name == "nt":  # pragma: no cover
                lifetime.adopt_into_kill_job(self._pid)
        self.started.emit()

    @Slot()
    def _on_output(self) -> None:
        data = bytes(self._process.readAllStandardOutput().data()).decode("utf-8", errors="replace")
        lines = (self._partial_line + data).split("\n")
        self._partial_line = lines.pop()
        for line in lines:
            self._emit_output(line.rstrip("\r"))

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._finish(self._exit_code(exit_code, exit_status))

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart:
            # No finished() follows a failed start; finish here.
            self._finish(None, start_error=self._process.errorString())

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _exit_code(exit_code: int, exit_status: QProcess.ExitStatus) -> int | None:
        return exit_code if exit_status == QProcess.ExitStatus.NormalExit else None

    def _finish(self, exit_code: int | None, *, start_error: str = "") -> None:
        if self._outcome is not None:
            return
        self._grace_timer.stop()
        self._on_output()
        if self._partial_line:
            self._emit_output(self._partial_line)
            self._partial_line = ""
        if self._pid:
            lifetime.unregister_group(self._pid)
        self._outcome = ProcessOutcome(self._what, exit_code, start_error)
        self.note(str(self._outcome).removesuffix("."))
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.finished.emit(self._outcome)

    def _emit_output(self, line: str) -> None:
        self._tail.append(line)
        self._emit_line(line)

    def _emit_line(self, line: str) -> None:
        if self._log_file is not None:
            self._log_file.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        self.line.emit(line)


def _open_log_file(path: Path | None) -> logging.Handler | None:
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=SERVER_LOG_MAX_BYTES, backupCount=SERVER_LOG_BACKUPS, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the server log %s: %s", path, exc)
        return None
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler
