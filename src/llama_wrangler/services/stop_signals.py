"""Ctrl-C (and SIGTERM / SIGHUP on POSIX) inside a Qt event loop — one path for the window and the
command line.

Python runs signal handlers only between bytecodes, which never happens while Qt's event loop waits in
C++. ``signal.set_wakeup_fd`` makes the C-level handler write a byte to a socket; a
:class:`QSocketNotifier` on the other end wakes the event loop, and ``on_stop`` runs there, on the GUI
thread. No polling timer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

from PySide6.QtCore import QSocketNotifier


def stop_signals() -> list[signal.Signals]:
    """The signals that mean "stop cleanly" on this OS."""
    signals = [signal.SIGINT]
    if os.name != "nt":
        signals += [signal.SIGTERM, signal.SIGHUP]
    return signals


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """The wakeup fd does the work; a Python handler only keeps KeyboardInterrupt from being raised."""


class StopSignals:
    """While installed, a stop signal calls ``on_stop()`` on the event loop's thread.

    Install it on the main thread (Python's rule for signal handlers) with a Qt application already
    created; :meth:`remove` puts the previous handlers and wakeup fd back.
    """

    def __init__(self, on_stop: Callable[[], None]) -> None:
        self._on_stop = on_stop
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous: dict[signal.Signals, Any] = {sig: signal.signal(sig, _ignore) for sig in stop_signals()}
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._on_wakeup)
        self._removed = False

    def _on_wakeup(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._reader.recv(64)
        self._on_stop()

    def remove(self) -> None:
        if self._removed:
            return
        self._removed = True
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._notifier.deleteLater()
        self._reader.close()
        self._writer.close()
