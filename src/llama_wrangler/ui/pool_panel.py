"""The worker pool on the Server page: the workers and what each said at the last check, the switch that
splits served models across them, and this computer's own worker."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.errors import SettingsError
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.pool import WorkerStatus
from llama_wrangler.services.pool_actions import PoolActions
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.settings import Settings
from llama_wrangler.units import human_bytes

NOT_CHECKED = "not checked yet"


class PoolPanel(QFrame):
    def __init__(self, pool: PoolActions, settings: SettingsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._pool = pool
        self._settings = settings
        title = QLabel("Worker pool")
        title.setObjectName("sectionTitle")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setProperty("muted", True)
        self.enabled = QCheckBox("Split models across these workers (checked before each start)")
        self.enabled.toggled.connect(self._on_enabled_toggled)
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels(["Worker", "State", "Free memory", "llama.cpp RPC"])
        self.table.setMaximumHeight(120)
        self.check_button = QPushButton("Check workers")
        self.check_button.clicked.connect(self._on_check_clicked)
        self.worker_button = QPushButton()
        self.worker_button.clicked.connect(self._on_worker_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        buttons.addWidget(self.worker_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 18, 12)
        layout.addWidget(title)
        layout.addWidget(self.note)
        layout.addWidget(self.enabled)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        pool.checked.connect(self._on_checked)
        pool.worker_state_changed.connect(self._on_worker_state)
        settings.changed.connect(self._on_settings_changed)
        self._on_settings_changed(settings.settings)
        self._on_worker_state(ServerState.STOPPED)

    # -- slots -----------------------------------------------------------------------------------------
    @Slot(Settings)
    def _on_settings_changed(self, settings: Settings) -> None:
        workers = settings.pool.worker_list()
        self.enabled.blockSignals(True)
        self.enabled.setChecked(settings.pool.enabled)
        self.enabled.blockSignals(False)
        # Without workers the panel is one line and one button: nothing to switch on or check yet.
        self.enabled.setVisible(bool(workers))
        self.check_button.setVisible(bool(workers))
        self.note.setText("For models too big for this computer: add others running `llama-wrangler worker` "
                          "in Settings → Pool." if not workers else f"{len(workers)} worker"
                          f"{'s' if len(workers) != 1 else ''}. Every token crosses the network: use a fast, "
                          "private link.")
        known = {status.address: status for status in self._pool.statuses}
        self.table.clear()
        for address in workers:
            self.table.addTopLevelItem(self._row(address, known.get(address)))
        self.table.setVisible(bool(workers))

    @Slot(list)
    def _on_checked(self, statuses: list[WorkerStatus]) -> None:
        self._on_settings_changed(self._settings.settings)

    @Slot(str)
    def _on_worker_state(self, state: str) -> None:
        running = state in (ServerState.STARTING, ServerState.READY)
        pool = self._settings.settings.pool
        self.worker_button.setText("Stop this computer's worker" if running
                                   else "Run this computer as a worker")
        self.worker_button.setToolTip(f"ggml-rpc-server on {pool.worker_host}:{pool.worker_port} "
                                      f"({state})" if running else
                                      f"Lets another computer split models across this one "
                                      f"(ggml-rpc-server on {pool.worker_host}:{pool.worker_port}).")

    def _on_check_clicked(self) -> None:
        self._pool.check()

    def _on_worker_clicked(self) -> None:
        if self._pool.worker_running:
            self._pool.stop_worker()
        else:
            self._pool.start_worker()

    def _on_enabled_toggled(self, on: bool) -> None:
        current = self._settings.settings
        pool = current.pool.model_copy(update={"enabled": on})
        try:
            self._settings.update(current.model_copy(update={"pool": pool}))
        except SettingsError:
            self.enabled.setChecked(not on)

    @staticmethod
    def _row(address: str, status: WorkerStatus | None) -> QTreeWidgetItem:
        if status is None:
            values = [address, NOT_CHECKED, "—", "—"]
        else:
            state = "ready" if status.usable else status.problem.split(". ")[0]
            info = status.info
            values = [address, state, human_bytes(info.free_bytes) if info else "—",
                      str(info.version) if info else "—"]
        item = QTreeWidgetItem(values)
        if status is not None and not status.usable:
            item.setToolTip(1, status.problem)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item


def worker_toggle(pool: PoolActions, parent: QObject) -> QAction:
    """The tray's "Run as a pool worker" switch, following the worker's real state."""
    action = QAction("Run as a pool worker", parent)
    action.setCheckable(True)

    def on_triggered(checked: bool) -> None:
        if checked:
            if not pool.start_worker():
                action.setChecked(False)
        else:
            pool.stop_worker()

    action.triggered.connect(on_triggered)
    pool.worker_state_changed.connect(
        lambda state: action.setChecked(state in (ServerState.STARTING, ServerState.READY)))
    return action
