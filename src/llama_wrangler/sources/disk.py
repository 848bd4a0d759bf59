"""Free disk space, checked before anything big is written."""

from __future__ import annotations

import shutil
from pathlib import Path

from llama_wrangler.errors import DiskSpaceError
from llama_wrangler.units import human_bytes

DISK_MARGIN = 64 * 1024 * 1024  # keep this much free beyond what is written


def check_disk_space(folder: Path, needed: int) -> None:
    """Raise :class:`DiskSpaceError` unless ``folder``'s filesystem has ``needed`` bytes (plus a margin)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed + DISK_MARGIN:
        raise DiskSpaceError(f"Not enough free disk space in {folder}: {human_bytes(needed)} needed, "
                             f"{human_bytes(free)} free.", hint="Free some space or choose a smaller quant.")


def same_filesystem(a: Path, b: Path) -> bool:
    """Whether a rename from ``a`` into ``b`` stays on one filesystem (else the finished file is copied,
    and needs room on both). Missing folders are judged by their nearest existing parent."""
    def device(path: Path) -> int | None:
        while not path.exists() and path != path.parent:
            path = path.parent
        try:
            return path.stat().st_dev
        except OSError:
            return None

    return device(a) == device(b)
