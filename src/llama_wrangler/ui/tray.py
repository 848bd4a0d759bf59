"""The system tray: a menu of models for one-click hot-swap (the served one checked), Stop server, Show
window, Quit; a tooltip with the state; notifications when a model is ready, the server crashes, or a
download finishes.

The menu works without a tray host (tests drive it directly; offscreen has none). The icon itself is only
created when ``QSystemTrayIcon.isSystemTrayAvailable()`` says a host exists.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QIcon, QPainter
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from llama_wrangler import APP_NAME
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.model_actions import ModelActions
from llama_wrangler.ui.icons import icon
from llama_wrangler.ui.model_names import picker_label, title_or_id
from llama_wrangler.ui.state_look import describe_state, look
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobManager, JobState

MAX_MENU_MODELS = 25


def tray_icon_for(state: str, size: int = 64) -> QIcon:
    """The tray mark with the server's state dot in its corner (no dot while stopped)."""
    pixmap = icon("tray-icon").pixmap(size, size)
    if state not in (ServerState.STOPPED, ""):
        painter = QPainter(pixmap)
        dot = size * 9 // 20
        icon(look(state).icon).paint(painter, size - dot, size - dot, dot, dot)
        painter.end()
    return QIcon(pixmap)


class TrayController(QObject):
    """Owns the tray menu (always) and the tray icon (when a host exists).

    Signals:
        show_window_requested()
        quit_requested()
        notified(str title, str text): a notification was raised (also without a tray host; tests use it).
    """

    show_window_requested = Signal()
    quit_requested = Signal()
    notified = Signal(str, str)

    def __init__(self, actions: ModelActions, supervisor: ServerFleet, jobs: JobManager, *,
                 unload: Callable[[str], None] | None = None, notifications: bool = True,
                 tray_available: bool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._actions = actions
        self._supervisor = supervisor
        self._unload = unload
        self.unload_menu = QMenu("Unload")  # one entry per loaded model (several may be)
        self.unload_menu.setObjectName("trayUnloadMenu")
        self.notifications = notifications
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self._model_group = QActionGroup(self)
        self._model_group.setExclusive(True)
        self.model_actions: dict[str, QAction] = {}
        self.state_icon = tray_icon_for(ServerState.STOPPED)
        self.status_action = QAction(self)
        self.status_action.setEnabled(False)
        self.stop_action = QAction("Stop server", self)
        self.stop_action.triggered.connect(actions.stop)
        self.extra_actions: list[QAction] = []  # more entries the app adds (the pool worker switch)
        self.show_action = QAction("Show window", self)
        self.show_action.triggered.connect(self.show_window_requested)
        self.quit_action = QAction("Quit", self)
        self.quit_action.triggered.connect(self.quit_requested)

        available = QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None else tray_available
        self.icon: QSystemTrayIcon | None = None
        if available:
            self.icon = QSystemTrayIcon(icon("tray-icon"), self)
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._on_activated)

        supervisor.state_changed.connect(self._on_state_changed)
        supervisor.slots_changed.connect(self._sync_state)
        supervisor.endpoint_changed.connect(self._on_endpoint_changed)
        supervisor.error.connect(self._on_server_error)
        actions.library_changed.connect(self.rebuild)
        jobs.job_added.connect(self._on_job_added)
        self.rebuild()

    @property
    def available(self) -> bool:
        return self.icon is not None

    def show(self) -> None:
        if self.icon is not None:
            self.icon.show()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    # -- menu ------------------------------------------------------------------------------------------
    @Slot()
    def rebuild(self) -> None:
        self.menu.clear()
        for action in self.model_actions.values():
            self._model_group.removeAction(action)
            action.deleteLater()
        self.model_actions.clear()
        self.menu.addAction(self.status_action)
        self.menu.addSeparator()
        records = [r for r in self._actions.models() if not r.missing]
        if not records:
            empty = self.menu.addAction("No models yet")
            empty.setEnabled(False)
        for record in records[:MAX_MENU_MODELS]:
            label = picker_label(record)
            action = QAction(label, self)
            action.setCheckable(True)
            action.setData(record.id)
            action.triggered.connect(lambda _checked=False, model_id=record.id: self._on_model_chosen(model_id))
            self._model_group.addAction(action)
            self.menu.addAction(action)
            self.model_actions[record.id] = action
        if len(records) > MAX_MENU_MODELS:
            more = self.menu.addAction(f"{len(records) - MAX_MENU_MODELS} more in the window…")
            more.triggered.connect(self.show_window_requested)
        self.menu.addSeparator()
        if self._unload is not None:
            self.menu.addMenu(self.unload_menu)
        self.menu.addAction(self.stop_action)
        self.menu.addActions(self.extra_actions)
        self.menu.addAction(self.show_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self._sync_state()

    def _on_model_chosen(self, model_id: str) -> None:
        self._actions.serve(model_id)
        self._sync_state()

    def loaded_models(self) -> list[str]:
        """The models a server holds or loads now (the focused one is also checked in the list)."""
        return self._supervisor.loaded_models()

    @Slot()
    def _sync_state(self) -> None:
        state = self._supervisor.state
        served = self._actions.serving_id()
        loaded = self.loaded_models()
        for model_id, action in self.model_actions.items():
            action.setChecked(model_id == served)
            record = self._actions.find(model_id)
            label = picker_label(record) if record is not None else model_id
            action.setText(f"{label}  · loaded" if model_id in loaded and model_id != served else label)
        self.unload_menu.clear()
        for model_id in loaded:
            entry = self.unload_menu.addAction(title_or_id(self._actions.find(model_id), model_id))
            entry.triggered.connect(lambda _checked=False, m=model_id: self._unload_model(m))
        self.unload_menu.setEnabled(bool(loaded))
        if not served:
            checked = self._model_group.checkedAction()
            if checked is not None:
                # An exclusive group never unchecks its last action by itself.
                self._model_group.setExclusive(False)
                checked.setChecked(False)
                self._model_group.setExclusive(True)
        name = title_or_id(self._actions.find(served), served) if served else ""
        text = describe_state(state, name, self._supervisor.client_endpoint)
        self.status_action.setText(text)
        self.stop_action.setEnabled(state not in (ServerState.STOPPED, ServerState.STOPPING))
        self.state_icon = tray_icon_for(state)
        if self.icon is not None:
            self.icon.setToolTip(f"{APP_NAME} — {text}")
            self.icon.setIcon(self.state_icon)

    def _unload_model(self, model_id: str) -> None:
        if self._unload is not None:
            self._unload(model_id)

    @property
    def tooltip(self) -> str:
        return f"{APP_NAME} — {self.status_action.text()}"

    # -- notifications ---------------------------------------------------------------------------------
    def notify(self, title: str, text: str, *, critical: bool = False) -> None:
        if not self.notifications:
            return
        self.notified.emit(title, text)
        if self.icon is not None and self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            kind = QSystemTrayIcon.MessageIcon.Critical if critical else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(title, text, kind, 6000)

    @Slot(str, str)
    def _on_state_changed(self, _old: str, _new: str) -> None:
        self._sync_state()

    @Slot(str)
    def _on_endpoint_changed(self, endpoint: str) -> None:
        # The endpoint is published right after the state turns ready: announce the model then.
        self._sync_state()
        endpoint = self._supervisor.client_endpoint  # the stable one, when a proxy stands in front
        if endpoint and self._supervisor.state == ServerState.READY:
            name = title_or_id(self._actions.find(self._supervisor.model_id), self._supervisor.model_id)
            self.notify("Model ready", f"{name} is being served at {endpoint}.")

    @Slot(str)
    def _on_server_error(self, message: str) -> None:
        first_line = message.splitlines()[0] if message else "llama-server stopped unexpectedly."
        self.notify("Server problem", first_line, critical=True)

    @Slot(object)
    def _on_job_added(self, job: object) -> None:
        if isinstance(job, Job) and job.kind in (JobKind.DOWNLOAD, JobKind.CONVERT):
            job.state_changed.connect(lambda state, j=job: self._on_job_state(j, state))

    def _on_job_state(self, job: Job, state: str) -> None:
        if state == JobState.DONE:
            self.notify("Download finished", f"{job.title} is in your library.")
        elif state == JobState.FAILED:
            self.notify("Download failed", f"{job.title}: {job.error or 'failed'}", critical=True)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_window_requested.emit()
