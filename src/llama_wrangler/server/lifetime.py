"""Make sure no llama-server outlives the app, however the app ends.

Three layers, strongest last:

* normal quit: the supervisor stops its server on ``QCoreApplication.aboutToQuit``;
* Python exit (``sys.exit``, an uncaught exception): an ``atexit`` hook SIGKILLs every process group
  still registered here — plain ``os`` calls, because Qt may already be torn down by then;
* the app killed outright (``kill -9``, a segfault): on Linux the server is launched through
  ``setpriv --pdeathsig KILL``, so the kernel kills it when the app dies. (PySide6 does not expose
  ``QProcess.setChildProcessModifier``, so ``prctl(PR_SET_PDEATHSIG)`` cannot run in the child from
  Python; util-linux's ``setpriv`` does exactly that call and then execs the server, same pid.)

Other platforms: on macOS there is no parent-death signal; the first two layers apply and a hard crash
of the app can leave the server running (a kqueue ``NOTE_EXIT`` watchdog would close that gap; not done).
On Windows a Job Object with ``KILL_ON_JOB_CLOSE`` gives the kernel-level guarantee; see
:func:`adopt_into_kill_job`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import sys
import threading

_lock = threading.Lock()
_live_groups: set[int] = set()
_hook_installed = False


def launch_prefix() -> list[str]:
    """argv to put in front of the server's so the kernel kills it when we die ([] where unavailable)."""
    if sys.platform.startswith("linux"):
        setpriv = shutil.which("setpriv")
        if setpriv:
            return [setpriv, "--pdeathsig", "KILL", "--"]
    return []


def register_group(pgid: int) -> None:
    """Remember a process group to kill at Python exit."""
    global _hook_installed
    with _lock:
        _live_groups.add(pgid)
        if not _hook_installed:
            atexit.register(kill_all_groups)
            _hook_installed = True


def unregister_group(pgid: int) -> None:
    with _lock:
        _live_groups.discard(pgid)


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` (its own session), or to ``pid`` alone when the
    group is not there yet (the child has not reached ``setsid`` in the instant after fork)."""
    if os.name == "nt":  # pragma: no cover - POSIX only; Windows stops through QProcess.kill()
        return
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    except PermissionError:
        # Only possible if the pid was recycled by someone else's process: never signal it.
        pass


def kill_all_groups() -> None:
    """SIGKILL every registered group (atexit: no event loop, no grace)."""
    with _lock:
        groups = list(_live_groups)
        _live_groups.clear()
    if os.name == "nt":  # pragma: no cover - the Job Object does this on Windows
        return
    for pgid in groups:
        signal_group(pgid, signal.SIGKILL)


if sys.platform == "win32":  # pragma: no cover - not testable on the Linux CI
    import ctypes
    from ctypes import wintypes

    _JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
    _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9
    _PROCESS_SET_QUOTA = 0x0100
    _PROCESS_TERMINATE = 0x0001

    class _IoCounters(ctypes.Structure):
        _fields_ = [(name, ctypes.c_ulonglong) for name in (
            "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
            "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

    class _BasicLimits(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
            ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
            ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
            ("SchedulingClass", wintypes.DWORD),
        ]

    class _ExtendedLimits(ctypes.Structure):
        _fields_ = [
            ("BasicLimitInformation", _BasicLimits), ("IoInfo", _IoCounters),
            ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
            ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t),
        ]

    _job_handle: int | None = None

    def adopt_into_kill_job(pid: int) -> bool:
        """Put ``pid`` in a Job Object that Windows closes (killing its members) when this app exits."""
        global _job_handle
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        if _job_handle is None:
            job = kernel32.CreateJobObjectW(None, None)
            if not job:
                return False
            limits = _ExtendedLimits()
            limits.BasicLimitInformation.LimitFlags = _JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
            if not kernel32.SetInformationJobObject(job, _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
                                                    ctypes.byref(limits), ctypes.sizeof(limits)):
                return False
            _job_handle = job  # kept open for the app's lifetime on purpose: closing it kills the server
        process = kernel32.OpenProcess(_PROCESS_SET_QUOTA | _PROCESS_TERMINATE, False, pid)
        if not process:
            return False
        try:
            return bool(kernel32.AssignProcessToJobObject(_job_handle, process))
        finally:
            kernel32.CloseHandle(process)
else:
    def adopt_into_kill_job(pid: int) -> bool:
        """Windows only; elsewhere the process group and parent-death signal do this job."""
        return False
