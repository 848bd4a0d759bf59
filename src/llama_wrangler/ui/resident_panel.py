"""The loaded models on the Server page: each one's state, memory (our estimate next to what its process
really holds), how long it has been idle, when it is unloaded, a pin ("keep loaded") and an Unload button.

It shows what :class:`~llama_wrangler.services.endpoint.EndpointService` reports (``residents``) and asks
for a fresh report once a second while the page is shown; it never reads processes itself.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.services.endpoint import LoadedModel
from llama_wrangler.settings import ServerSettings
from llama_wrangler.units import human_bytes, human_duration

REFRESH_MS = 1000
COLUMNS = ("Model", "State", "Memory: est. / actual", "Idle", "Unloads", "Pin", "")


def unload_words(loaded: LoadedModel) -> str:
    view = loaded.view
    if view.pinned:
        return "never (pinned)"
    if view.ttl_s is None:
        return "if room is needed"
    return f"in {human_duration(max(0.0, view.ttl_s - view.idle_s))}"


def memory_words(loaded: LoadedModel) -> str:
    estimate = loaded.view.ram_bytes + loaded.view.vram_bytes
    return f"{human_bytes(estimate) if estimate else '—'} / {human_bytes(loaded.rss_bytes)}"


class ResidentPanel(QFrame):
    """Signals:
        unload_requested(str): the user clicked Unload for this model.
        pin_requested(str, bool): the user (un)ticked "Keep loaded".
    """

    unload_requested = Signal(str)
    pin_requested = Signal(str, bool)

    def __init__(self, refresh: Callable[[], None], title_of: Callable[[str], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._refresh = refresh
        self._title_of = title_of
        self._rows: list[LoadedModel] = []
        title = QLabel("Loaded models")
        title.setObjectName("sectionTitle")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setProperty("muted", True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setMinimumSectionSize(38)  # a button's height, with air around it
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the buttons in it take the focus, not the cells
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS) - 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        # The pin and the button live in cell widgets, which ResizeToContents does not measure.
        for column, width in ((len(COLUMNS) - 2, 48), (len(COLUMNS) - 1, 104)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(column, width)
        self.empty = QLabel("No model is loaded.")
        self.empty.setProperty("muted", True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 18, 12)
        layout.addWidget(title)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        layout.addWidget(self.empty)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh)
        self.show_rows([])

    def set_settings(self, server: ServerSettings) -> None:
        if not server.stable_endpoint:
            self.note.setText("One model at a time: keeping several loaded needs the stable endpoint "
                              "(Settings → Server).")
            return
        room = f"within {server.memory_limit_gb:g} GB" if server.memory_limit_gb else "within the free memory"
        self.note.setText(f"Up to {server.max_models} models stay loaded side by side {room}; when another does "
                          "not fit, the least recently used idle one is unloaded first. Models a request loaded "
                          + (f"are unloaded after {server.idle_unload_min:g} min unused."
                             if server.idle_unload_min else "stay until room is needed."))

    @Slot(list)
    def show_rows(self, rows: list[LoadedModel]) -> None:
        self._rows = [row for row in rows if isinstance(row, LoadedModel)]
        self.table.setRowCount(len(self._rows))
        for index, loaded in enumerate(self._rows):
            view = loaded.view
            state = view.state + (f", {view.in_flight} running" if view.in_flight else "")
            state += f", {view.queued} waiting" if view.queued else ""
            idle = "busy" if view.in_flight else human_duration(view.idle_s)
            name = self._title_of(view.model)
            for column, text in enumerate((name, state, memory_words(loaded), idle, unload_words(loaded))):
                item = QTableWidgetItem(text)
                if column == 0:
                    tip = f"API id: {view.model}" + (f"\npid {view.pid}" if view.pid else "")
                    if view.default:  # bold: the model a request that names none gets
                        font = item.font()
                        font.setBold(True)
                        item.setFont(font)
                        tip += "\nRequests that name no model get this one."
                    item.setToolTip(tip)
                if column == 2:
                    tip = ("Our estimate from the GGUF header (weights + KV cache + compute buffers) / "
                           "the llama-server process's resident memory now")
                    if view.cache_bytes:
                        tip += (f"\nThe estimate keeps {human_bytes(view.cache_bytes)} for its prompt cache, "
                                "which fills as it is used (the actual memory grows towards it).")
                    item.setToolTip(tip)
                self.table.setItem(index, column, item)
            self.table.setCellWidget(index, 5, self._pin_box(view.model, view.pinned))
            self.table.setCellWidget(index, 6, self._unload_button(view.model))
        self.table.resizeRowsToContents()  # room for the buttons in the last columns
        rows_height = sum(self.table.rowHeight(row) for row in range(self.table.rowCount()))
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + rows_height
                                  + 2 * self.table.frameWidth())
        self.table.setVisible(bool(self._rows))
        self.empty.setVisible(not self._rows)

    def models(self) -> list[str]:
        return [row.view.model for row in self._rows]

    def _pin_box(self, model: str, pinned: bool) -> QWidget:
        box = QCheckBox()
        box.setChecked(pinned)
        box.setToolTip("Pin: keep this model loaded (never unloaded to make room or when idle)")
        box.toggled.connect(lambda checked, m=model: self.pin_requested.emit(m, checked))
        return self._centered(box)

    def _unload_button(self, model: str) -> QWidget:
        button = QPushButton("Unload")
        button.setToolTip(f"Unload {model} (its running requests finish first)")
        button.clicked.connect(lambda _checked=False, m=model: self.unload_requested.emit(m))
        return self._centered(button)

    @staticmethod
    def _centered(widget: QWidget) -> QWidget:
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(6, 0, 6, 0)
        if isinstance(widget, QPushButton):
            row.addWidget(widget)  # fills its fixed-width column: never squeezed below its text
        else:
            row.addWidget(widget, 0, Qt.AlignmentFlag.AlignCenter)
        return holder

    # -- polling only while visible ----------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self._refresh()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt's name)
        self._timer.stop()
        super().hideEvent(event)
