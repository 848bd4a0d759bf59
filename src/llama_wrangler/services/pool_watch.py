"""When a model split across pool workers stops unexpectedly, find out whether a worker went away, and
say so instead of a generic crash (window and CLI alike).

The check is a TCP connect to each worker, on a short-lived thread: a worker on another machine that
vanished without a reset can take the whole timeout, and the GUI thread must not wait for it.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal, Slot

from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.pool import lost_message, lost_workers


class PoolWatch(QObject):
    """Signals:
        workers_lost(list, str): the workers that no longer answer, and a message for the user.
    """

    workers_lost = Signal(list, str)
    _checked = Signal(list)

    def __init__(self, supervisor: ServerFleet, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self._checked.connect(self._on_checked, Qt.ConnectionType.QueuedConnection)
        supervisor.state_changed.connect(self._on_state_changed)

    @Slot(str, str)
    def _on_state_changed(self, _old: str, new: str) -> None:
        plan = self._supervisor.rpc
        if new != ServerState.CRASHED or plan is None:
            return
        workers = list(plan.workers)
        threading.Thread(target=lambda: self._checked.emit(lost_workers(workers)), name="pool-lost-check",
                         daemon=True).start()

    @Slot(list)
    def _on_checked(self, lost: list[str]) -> None:
        if lost:
            self.workers_lost.emit(lost, lost_message(lost))
