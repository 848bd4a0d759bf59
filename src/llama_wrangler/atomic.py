"""Atomic file writes: a temp file in the same folder, fsync, then rename over the target."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def write_bytes_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp_name).unlink()
        raise


def write_json_atomic(target: Path, payload: Any) -> None:
    text = json.dumps(payload, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    write_bytes_atomic(target, text.encode("utf-8"))


def move_aside(path: Path) -> Path:
    """Rename an unusable file to ``<name>.bad-<UTC timestamp>`` (never over an earlier one) so the user
    keeps it while the app starts afresh. Raises OSError when it cannot be renamed."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.bad-{stamp}")
    counter = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.bad-{stamp}-{counter}")
        counter += 1
    path.replace(aside)
    return aside
