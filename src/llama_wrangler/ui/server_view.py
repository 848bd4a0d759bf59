"""The Server page: state with a coloured indicator, the endpoint and what it does with a request right
now, the API id a client sends (with copy buttons), the model and its real context size (from ``/props``),
start / stop / restart, the current failure in a few lines, and the live llama-server log.

What it shows is read from the supervisor and, for the stable endpoint, from ``endpoint_url()``
(``EndpointService.url``) on every change: the page never keeps its own idea of the server's state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.model_actions import ModelActions
from llama_wrangler.ui.icons import icon, tinted_icon
from llama_wrangler.ui.model_names import picker_label, title_of, title_or_id
from llama_wrangler.ui.server_log import LOG_MAX_LINES, ServerLog
from llama_wrangler.ui.server_problem import explain
from llama_wrangler.ui.state_look import look
from llama_wrangler.ui.theme import ThemeManager

__all__ = ["LOG_MAX_LINES", "ServerView", "endpoint_note"]

ACTIVE_STATES = (ServerState.STARTING, ServerState.LOADING, ServerState.READY)
SERVED_MARK = "●  "


def endpoint_note(state: str, *, proxy_url: str, model: str, restarting: bool = False) -> str:
    """What the endpoint does with a request right now, in the user's words."""
    if proxy_url and restarting:
        return "Open: requests wait while the server restarts."
    if state == ServerState.READY:
        return f"Answering requests with {model}." if model else "Answering requests."
    if proxy_url and state in (ServerState.STARTING, ServerState.LOADING):
        return f"Open: requests wait while {model or 'the model'} loads."
    if proxy_url and state == ServerState.STOPPING:
        return "Open: requests wait while the model changes."
    if proxy_url:
        return ("Open, no model loaded: /v1/models lists your library, a request that names a model (its "
                "API id) starts it, and other requests get “503 no model loaded”.")
    return "Not open. It opens when you serve a model."


class ServerView(QWidget):
    def __init__(self, supervisor: ServerFleet, actions: ModelActions, theme: ThemeManager,
                 parent: QWidget | None = None, *, endpoint_url: Callable[[], str] = lambda: "") -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self._actions = actions
        self._theme = theme
        self._endpoint_url = endpoint_url
        self._followed = ""  # the served model the picker last moved to
        self._problem_at = ""

        title = QLabel("Server")
        title.setObjectName("pageTitle")
        subtitle = QLabel("An OpenAI-compatible llama-server on this computer. Point your tools at the "
                          "endpoint below.")
        subtitle.setProperty("muted", True)
        subtitle.setWordWrap(True)

        # State card ---------------------------------------------------------------------------------
        self.state_dot = QLabel()
        self.state_label = QLabel()
        self.state_label.setObjectName("sectionTitle")
        self.model_combo = QComboBox()
        self.model_combo.setMinimumWidth(260)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.currentIndexChanged.connect(lambda _index: self._refresh())
        self.start_button = QPushButton("&Start")
        self.start_button.setProperty("primary", True)
        self.start_button.clicked.connect(self._on_start)
        self.stop_button = QPushButton("St&op")
        self.stop_button.clicked.connect(self._on_stop)
        self.restart_button = QPushButton("R&estart")
        self.restart_button.clicked.connect(self._on_restart)

        state_row = QHBoxLayout()
        state_row.setSpacing(10)
        state_row.addWidget(self.state_dot)
        state_row.addWidget(self.state_label, 1)
        control_row = QHBoxLayout()
        control_row.setSpacing(8)
        model_caption = QLabel("Mo&del")
        model_caption.setBuddy(self.model_combo)
        model_caption.setProperty("muted", True)
        control_row.addWidget(model_caption)
        control_row.addWidget(self.model_combo, 1)
        control_row.addWidget(self.start_button)
        control_row.addWidget(self.stop_button)
        control_row.addWidget(self.restart_button)

        self.endpoint = QLineEdit()
        self.endpoint.setObjectName("endpointField")
        self.endpoint.setReadOnly(True)
        self.endpoint.setPlaceholderText("Not open")
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy the endpoint's address")
        self.copy_button.clicked.connect(lambda: self._copy(self.endpoint.text(), self.copy_button))
        self.endpoint_note = QLabel()
        self.endpoint_note.setProperty("muted", True)
        self.endpoint_note.setWordWrap(True)
        self.api_id = QLineEdit()
        self.api_id.setObjectName("apiIdField")
        self.api_id.setReadOnly(True)
        self.copy_id_button = QPushButton("Cop&y id")
        self.copy_id_button.setToolTip("Copy the model id clients send as \"model\"")
        self.copy_id_button.clicked.connect(lambda: self._copy(self.api_id.text(), self.copy_id_button))
        self.api_note = QLabel()
        self.api_note.setProperty("muted", True)
        self.api_note.setWordWrap(True)
        self.context_size = QLabel("—")
        self.problem = QLabel()
        self.problem.setObjectName("serverProblem")
        self.problem.setWordWrap(True)
        self.problem.setProperty("fieldError", True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.hide()
        self.restart_note = QLabel()
        self.restart_note.setProperty("muted", True)
        self.restart_note.hide()
        self._countdown = QTimer(self)  # redraws "Restarting in N s" once a second while one is scheduled
        self._countdown.setInterval(500)
        self._countdown.timeout.connect(self._refresh)

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(8)
        form.addRow(self._caption("Endpoint"), self._with_button(self.endpoint, self.copy_button,
                                                                  self.endpoint_note))
        form.addRow(self._caption("API model id"), self._with_button(self.api_id, self.copy_id_button,
                                                                      self.api_note))
        form.addRow(self._caption("Context size"), self.context_size)

        card = QFrame()
        card.setObjectName("card")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(18, 16, 18, 16)
        card_layout.setSpacing(12)
        card_layout.addLayout(state_row)
        card_layout.addLayout(control_row)
        card_layout.addLayout(form)
        card_layout.addWidget(self.restart_note)
        card_layout.addWidget(self.problem)

        self._log_title = log_title = QLabel("Log")
        log_title.setObjectName("sectionTitle")
        self.log = ServerLog(self._public_url)
        for line in supervisor.log_lines():
            self.log.add_line(line)

        self._serve_blocker = ""
        # The page scrolls when the window is too small for it (a banner, the pool): squeezing would clip
        # the server card's rows instead.
        content = QWidget()
        scroll = QScrollArea(self)
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.log.setMinimumHeight(140)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(4)
        self._notice_index = layout.count()
        self._layout = layout
        layout.addWidget(card)
        layout.addSpacing(4)
        layout.addWidget(log_title)
        layout.addWidget(self.log, 1)

        supervisor.state_changed.connect(self._on_state_changed)
        supervisor.endpoint_changed.connect(self._on_endpoint_changed)
        supervisor.log_line.connect(self.log.add_line)
        supervisor.error.connect(self._on_error)
        actions.library_changed.connect(self.refresh_models)
        theme.changed.connect(self._tint)
        theme.changed.connect(self._refresh)
        self._tint()
        self.refresh_models()
        self._refresh()

    def add_notice(self, widget: QWidget) -> None:
        """Put a banner (llama.cpp missing) above the state card."""
        self._layout.insertWidget(self._notice_index, widget)
        self._notice_index += 1

    def set_serve_blocker(self, reason: str) -> None:
        """Disable Start with ``reason`` in its tooltip ('' enables it again)."""
        self._serve_blocker = reason
        self._refresh()

    def _caption(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setProperty("muted", True)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setContentsMargins(0, 6, 0, 0)
        return label

    @staticmethod
    def _with_button(field: QLineEdit, button: QPushButton, note: QLabel) -> QWidget:
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)  # a clear gap between the field and its button
        row.addWidget(field, 1)
        row.addWidget(button)
        button.setFixedHeight(field.sizeHint().height())
        column.addLayout(row)
        column.addWidget(note)
        return holder

    def _public_url(self) -> str:
        url = self._endpoint_url()
        return f"{url}/v1" if url else ""

    def add_section(self, widget: QWidget) -> None:
        """Another part of the page (the worker pool), placed above the log."""
        self._layout.insertWidget(self._layout.indexOf(self._log_title), widget)

    # -- feeding ---------------------------------------------------------------------------------------
    @Slot()
    def refresh_models(self) -> None:
        current = self.model_combo.currentData() or self._actions.serving_id()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for record in self._actions.models():
            if not record.missing:
                self.model_combo.addItem(picker_label(record), record.id)
        if not self.model_combo.count():
            self.model_combo.addItem("No models in the library", "")
        index = self.model_combo.findData(current)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)
        self._refresh()

    def select_model(self, model_id: str) -> None:
        index = self.model_combo.findData(model_id)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)

    def refresh(self) -> None:
        """Read everything again (the endpoint opened or closed, settings changed)."""
        self._refresh()

    # -- slots -----------------------------------------------------------------------------------------
    @Slot()
    def _on_start(self) -> None:
        model_id = self.model_combo.currentData()
        if model_id:
            self._clear_problem()
            self._actions.serve(str(model_id))

    @Slot()
    def _on_stop(self) -> None:
        self._clear_problem()
        self._actions.stop()

    @Slot()
    def _on_restart(self) -> None:
        self._clear_problem()
        self._supervisor.restart()

    def _copy(self, text: str, button: QPushButton) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)
            button.setText("Copied")

    @Slot(str, str)
    def _on_state_changed(self, _old: str, new: str) -> None:
        if new in (ServerState.READY, ServerState.STOPPED):
            self._clear_problem()  # a recovered or stopped server has no current failure
        self._refresh()

    @Slot(str)
    def _on_endpoint_changed(self, _endpoint: str) -> None:
        self._refresh()

    @Slot(str)
    def _on_error(self, message: str) -> None:
        problem = explain(message)
        self._problem_at = datetime.now().astimezone().strftime("%H:%M:%S")
        self.problem.setText(f"{self._problem_at} — {problem.short_text()}")
        self.problem.setToolTip(problem.full)
        self.problem.show()
        self._refresh()
        # The supervisor schedules an automatic restart right after announcing the crash: look again
        # once that call is over, so "Restarting in N s" shows from the first second.
        QTimer.singleShot(0, self._refresh)

    def _clear_problem(self) -> None:
        self.problem.hide()
        self.problem.clear()

    # -- drawing ---------------------------------------------------------------------------------------
    def _follow_served_model(self, served: str) -> None:
        """Move the picker to the served model when that changes (a switch made through the API, the
        tray or the library), so it never offers to undo a client's choice."""
        if served and served != self._followed:
            self.select_model(served)
        self._followed = served
        for index in range(self.model_combo.count()):
            model_id = str(self.model_combo.itemData(index) or "")
            record = self._actions.find(model_id) if model_id else None
            if record is None:
                continue
            text = picker_label(record)
            self.model_combo.setItemText(index, f"{SERVED_MARK}{text}" if model_id == served and served
                                         else text)

    @Slot()
    def _tint(self) -> None:
        """The buttons' icons, in the theme's colours (only a theme change alters them)."""
        colors = self._theme.colors
        self.start_button.setIcon(tinted_icon("action-play", colors.accent_text))
        self.stop_button.setIcon(tinted_icon("action-stop", colors.text))
        self.restart_button.setIcon(tinted_icon("action-restart", colors.text))
        self.copy_button.setIcon(tinted_icon("action-copy", colors.text))
        self.copy_id_button.setIcon(tinted_icon("action-copy", colors.text))

    def _refresh(self) -> None:
        sup = self._supervisor
        state = sup.state
        running = state in ACTIVE_STATES
        served = (sup.wanted_model_id or sup.model_id) if running else ""
        self.model_combo.blockSignals(True)
        self._follow_served_model(served)
        self.model_combo.blockSignals(False)
        self.state_dot.setPixmap(icon(look(state).icon).pixmap(22, 22))
        name = title_or_id(self._actions.find(sup.model_id), sup.model_id) if sup.model_id else ""
        words = look(state).words
        self.state_label.setText(f"{words} — {name}" if name and running else words)

        proxy = self._endpoint_url()
        base = proxy or sup.client_endpoint
        self.endpoint.setText(f"{base}/v1" if base else "")
        self.endpoint.setPlaceholderText("Not open")
        self.endpoint_note.setText(endpoint_note(state, proxy_url=proxy, model=name if running else "",
                                                 restarting=sup.restart_scheduled))
        self.copy_button.setEnabled(bool(base))
        self.copy_button.setText("&Copy")

        chosen = str(self.model_combo.currentData() or "")
        api_model = sup.model_id if running and sup.model_id else chosen
        self.api_id.setText(api_model)
        self.copy_id_button.setEnabled(bool(api_model))
        self.copy_id_button.setText("Cop&y id")
        api_record = self._actions.find(api_model) if api_model else None
        self.api_note.setText(
            f"Clients send this (or \"{title_of(api_record)}\") as \"model\"; naming another library "
            "model loads it (beside this one when it fits)." if api_record is not None and proxy else
            "Clients send this as \"model\"." if api_record is not None else "")
        ctx = sup.context_size
        self.context_size.setText(f"{ctx:,} tokens" if ctx else "—")

        self.start_button.setEnabled(bool(chosen) and state != ServerState.STOPPING and not self._serve_blocker
                                     and not (running and chosen == served))
        self.start_button.setText("&Switch" if running and chosen != served else "&Start")
        self.start_button.setToolTip(self._serve_blocker or ("" if chosen else "Add a model to the library first."))
        self.stop_button.setEnabled(state in (*ACTIVE_STATES, ServerState.CRASHED) or sup.restart_scheduled)
        # Restart is for a running server (apply new settings) and, above all, a crashed one.
        self.restart_button.setEnabled(running or state == ServerState.CRASHED)

        remaining = sup.restart_in_ms
        if remaining >= 0:
            self.restart_note.setText(f"Restarting in {max(1, round(remaining / 1000))} s…")
            self.restart_note.show()
            if not self._countdown.isActive():
                self._countdown.start()
        else:
            self.restart_note.hide()
            self._countdown.stop()
