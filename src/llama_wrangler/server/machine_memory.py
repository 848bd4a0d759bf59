"""What memory this machine has free now, and what one process holds: the other side of the estimate.

RAM from psutil; GPU memory from ``nvidia-smi`` when it is on PATH (``sources.machine.read_nvidia_gpus``,
the same reading the search's fit badge uses). A missing, failing or silent ``nvidia-smi`` means no GPU
memory, never an exception: the residency decision then plans for RAM alone.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from llama_wrangler.sources.machine import NVIDIA_SMI_TIMEOUT_S, read_nvidia_gpus


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes of RAM and GPU memory, total and free now, and where the numbers came from."""

    ram_total: int
    ram_available: int  # what new allocations can take without swapping (psutil's "available")
    vram_total: int = 0  # summed over the GPUs nvidia-smi lists; 0 when none
    vram_free: int = 0
    source: str = ""


def read_budget(*, nvidia_smi: str | None = None, timeout_s: float = NVIDIA_SMI_TIMEOUT_S) -> MemoryBudget:
    """RAM now (psutil) and the NVIDIA GPUs' memory now. ``nvidia_smi``: the tool's path (default: the one
    on PATH)."""
    ram = psutil.virtual_memory()
    gpus = read_nvidia_gpus(nvidia_smi, timeout_s=timeout_s)
    source = "RAM: psutil"
    if gpus:
        source += f"; GPU: nvidia-smi ({len(gpus)} GPU{'s' if len(gpus) > 1 else ''})"
    else:
        source += "; no GPU memory found"
    return MemoryBudget(ram_total=int(ram.total), ram_available=int(ram.available),
                        vram_total=sum(g.total for g in gpus), vram_free=sum(g.free for g in gpus),
                        source=source)


def process_rss(pid: int) -> int | None:
    """Resident memory of process ``pid`` in bytes; None when it is gone or cannot be read."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


# (available RAM, total RAM, free VRAM) in bytes: what the endpoint's scheduler reads when it plans a load.
MemoryProbe = Callable[[], tuple[int, int, int]]
VRAM_REFRESH_S = 5.0


class _VramWatch:
    """Free GPU memory, read by a daemon thread every few seconds: the scheduler plans on the endpoint's
    event loop, which must never wait for ``nvidia-smi`` (it can take a second)."""

    def __init__(self) -> None:
        self._free = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def free(self) -> int:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="vram-watch", daemon=True)
                if shutil.which("nvidia-smi") is not None:
                    self._thread.start()
            return self._free

    def _watch(self) -> None:
        while True:
            free = sum(gpu.free for gpu in read_nvidia_gpus())
            with self._lock:
                self._free = free
            time.sleep(VRAM_REFRESH_S)


_VRAM = _VramWatch()


def system_memory() -> tuple[int, int, int]:
    """RAM now (psutil) and the last free-VRAM reading (0 without an NVIDIA GPU)."""
    ram = psutil.virtual_memory()
    return int(ram.available), int(ram.total), _VRAM.free()
