"""What both screenshot scripts need: let the event loop run, wait for a state, grab a widget into a PNG.
Qt is imported inside each helper: the scripts set the app's environment before Qt loads."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def pump(ms: int = 150) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(predicate: Callable[[], object], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        pump(50)
    return False


def shooter(out: Path) -> Callable[[Any, str], None]:
    """``shoot(widget, name)``: grab ``widget`` into ``out/name.png`` and print the path."""

    def shoot(widget: Any, name: str) -> None:
        pump()
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        print(path)

    return shoot
