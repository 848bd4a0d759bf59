"""The Server page: state with a coloured indicator, the endpoint with a copy button, the model and its
real context size (from ``/props``), start / stop / restart, and the live llama-server log."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.model_actions import ModelActions
from llama_wrangler.ui.icons import icon, tinted_icon
from llama_wrangler.ui.state_look import look
from llama_wrangler.ui.theme import ThemeManager

LOG_MAX_LINES = 2000
ACTIVE_STATES = (ServerState.STARTING, ServerState.LOADING, ServerState.READY)


class ServerView(QWidget):
    def __init__(self, supervisor: ServerSupervisor, actions: ModelActions, theme: ThemeManager,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self._actions = actions
        self._theme = theme

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
        self.start_button = QPushButton("Start")
        self.start_button.setProperty("primary", True)
        self.start_button.clicked.connect(self._on_start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self._on_stop)
        self.restart_button = QPushButton("Restart")
        self.restart_button.clicked.connect(self._on_restart)

        state_row = QHBoxLayout()
        state_row.setSpacing(10)
        state_row.addWidget(self.state_dot)
        state_row.addWidget(self.state_label, 1)
        control_row = QHBoxLayout()
        control_row.setSpacing(8)
        model_caption = QLabel("Model")
        model_caption.setProperty("muted", True)
        control_row.addWidget(model_caption)
        control_row.addWidget(self.model_combo, 1)
        control_row.addWidget(self.start_button)
        control_row.addWidget(self.stop_button)
        control_row.addWidget(self.restart_button)

        self.endpoint = QLineEdit()
        self.endpoint.setReadOnly(True)
        self.endpoint.setPlaceholderText("Not running")
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self._on_copy)
        self.copy_button.setFixedHeight(self.endpoint.sizeHint().height())
        endpoint_row = QHBoxLayout()
        endpoint_row.addWidget(self.endpoint, 1)
        endpoint_row.addWidget(self.copy_button)
        self.served_model = QLabel("—")
        self.served_model.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.context_size = QLabel("—")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setProperty("fieldError", True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(8)
        form.addRow(self._caption("Endpoint"), endpoint_row)
        form.addRow(self._caption("Serving"), self.served_model)
        form.addRow(self._caption("Context size"), self.context_size)

        card = QFrame()
        card.setObjectName("card")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(18, 16, 18, 16)
        card_layout.setSpacing(12)
        card_layout.addLayout(state_row)
        card_layout.addLayout(control_row)
        card_layout.addLayout(form)
        card_layout.addWidget(self.error_label)

        # Log ----------------------------------------------------------------------------------------
        log_title = QLabel("Log")
        log_title.setObjectName("sectionTitle")
        self.log = QPlainTextEdit()
        self.log.setObjectName("serverLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_MAX_LINES)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.log.setFont(mono)
        self.log.setPlaceholderText("llama-server's output appears here while it runs.")
        for line in supervisor.log_lines():
            self.log.appendPlainText(line)

        self._serve_blocker = ""
        layout = QVBoxLayout(self)
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
        supervisor.log_line.connect(self._on_log_line)
        supervisor.error.connect(self._on_error)
        actions.library_changed.connect(self.refresh_models)
        theme.changed.connect(self._refresh)
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
        return label

    # -- slots -----------------------------------------------------------------------------------------
    @Slot()
    def refresh_models(self) -> None:
        current = self.model_combo.currentData() or self._actions.serving_id()
        self.model_combo.clear()
        for record in self._actions.models():
            if not record.missing:
                label = f"{record.name}  ·  {record.info.quant}" if record.info.quant else record.name
                self.model_combo.addItem(label, record.id)
        if not self.model_combo.count():
            self.model_combo.addItem("No models in the library", "")
        index = self.model_combo.findData(current)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        self._refresh()

    def select_model(self, model_id: str) -> None:
        index = self.model_combo.findData(model_id)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)

    @Slot()
    def _on_start(self) -> None:
        model_id = self.model_combo.currentData()
        if model_id:
            self.error_label.hide()
            self._actions.serve(str(model_id))

    @Slot()
    def _on_stop(self) -> None:
        self._actions.stop()

    @Slot()
    def _on_restart(self) -> None:
        self.error_label.hide()
        self._supervisor.restart()

    @Slot()
    def _on_copy(self) -> None:
        if self.endpoint.text():
            QGuiApplication.clipboard().setText(self.endpoint.text())
            self.copy_button.setText("Copied")

    @Slot(str, str)
    def _on_state_changed(self, _old: str, _new: str) -> None:
        self._refresh()

    @Slot(str)
    def _on_endpoint_changed(self, _endpoint: str) -> None:
        self._refresh()

    @Slot(str)
    def _on_log_line(self, line: str) -> None:
        bar = self.log.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        self.log.appendPlainText(line)
        if at_bottom:  # follow the output unless the user scrolled up to read
            bar.setValue(bar.maximum())

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def _refresh(self) -> None:
        sup = self._supervisor
        state = sup.state
        colors = self._theme.colors
        self.state_dot.setPixmap(icon(look(state).icon).pixmap(22, 22))
        serving = self._actions.find(sup.model_id) if sup.model_id else None
        name = serving.name if serving is not None else sup.model_id
        words = look(state).words
        self.state_label.setText(f"{words} — {name}" if name and state in ACTIVE_STATES else words)
        endpoint = sup.client_endpoint
        self.endpoint.setText(f"{endpoint}/v1" if endpoint else "")
        self.copy_button.setEnabled(bool(endpoint))
        self.copy_button.setText("Copy")
        self.served_model.setText(name if name and state in ACTIVE_STATES else "—")
        ctx = sup.context_size
        self.context_size.setText(f"{ctx:,} tokens" if ctx else "—")
        running = state in ACTIVE_STATES
        has_models = bool(self.model_combo.currentData())
        chosen = str(self.model_combo.currentData() or "")
        self.start_button.setEnabled(has_models and state != ServerState.STOPPING and not self._serve_blocker)
        self.start_button.setText("Switch" if running and chosen != sup.model_id else "Start")
        self.start_button.setToolTip(self._serve_blocker or ("" if has_models else "Add a model to the library first."))
        if running and chosen == sup.model_id:
            self.start_button.setEnabled(False)
        self.stop_button.setEnabled(state in (*ACTIVE_STATES, ServerState.CRASHED))
        self.restart_button.setEnabled(running)
        self.start_button.setIcon(tinted_icon("action-play", colors.accent_text))
        self.stop_button.setIcon(tinted_icon("action-stop", colors.text))
        self.restart_button.setIcon(tinted_icon("action-restart", colors.text))
        self.copy_button.setIcon(tinted_icon("action-copy", colors.text))
        if state == ServerState.READY:
            self.error_label.hide()
