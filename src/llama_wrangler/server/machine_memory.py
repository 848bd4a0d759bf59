"""How much memory the machine has free for models (read when a load is planned)."""

from __future__ import annotations

from collections.abc import Callable

import psutil

# (available RAM, total RAM, free VRAM) in bytes.
MemoryProbe = Callable[[], tuple[int, int, int]]


def system_memory() -> tuple[int, int, int]:
    memory = psutil.virtual_memory()
    return int(memory.available), int(memory.total), 0
