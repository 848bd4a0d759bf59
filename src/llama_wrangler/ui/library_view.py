"""The Library page: a filterable, sortable table of models and the details pane beside it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelection, QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.library.records import ModelRecord
from llama_wrangler.server.state import ServerState
from llama_wrangler.ui.library_model import (
    HEADERS,
    ID_ROLE,
    Column,
    LibraryFilterProxy,
    LibraryTableModel,
)
from llama_wrangler.ui.model_details import ModelDetails
from llama_wrangler.ui.theme import ThemeManager
from llama_wrangler.units import human_bytes

# Columns hidden first when the table gets narrow, least important first.
NARROW_HIDE_ORDER = (Column.SOURCE, Column.ARCHITECTURE, Column.CONTEXT, Column.PARAMETERS)
NAME_MIN_WIDTH = 180
CELL_PADDING = 24


class LibraryView(QWidget):
    """Shows records it is given (:meth:`set_records`) and the served model (:meth:`set_served`).
    Actions leave through :attr:`details`' signals; the view itself changes nothing.

    Signals:
        find_other_apps_requested(): look for models other apps downloaded (Hugging Face cache, Ollama,
            LM Studio) to use in place.
    """

    find_other_apps_requested = Signal()

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = theme
        self.model = LibraryTableModel(self)
        self._widths: dict[Column, int] = {}
        self.proxy = LibraryFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        title = QLabel("Library")
        title.setObjectName("pageTitle")
        self.count_label = QLabel()
        self.count_label.setProperty("muted", True)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by name, architecture, quant…")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMaximumWidth(320)
        self.filter.textChanged.connect(self.proxy.set_filter_text)
        self.filter.textChanged.connect(self._update_count)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(34)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        # Fixed widths measured from the text once per refresh (ResizeToContents would query every cell
        # on every change: seconds with a few hundred models).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(56)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.table.viewport().installEventFilter(self)

        self.empty = QLabel("Your library is empty.\n\nDrop .gguf files or folders here, or use "
                            "“Add model” to download one from Hugging Face.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("muted", True)
        self.empty.setWordWrap(True)

        self.details = ModelDetails(theme)
        self.details.setMinimumWidth(300)
        self.details.setMaximumWidth(420)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.empty, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(14)

        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(title)
        titles.addWidget(self.count_label)
        head.addLayout(titles, 1)
        self.other_apps_button = QPushButton("Find models from other apps")
        self.other_apps_button.setToolTip("Use models already downloaded by the Hugging Face tools, Ollama or "
                                          "LM Studio, where they are (nothing is copied)")
        self.other_apps_button.clicked.connect(self.find_other_apps_requested)
        head.addWidget(self.other_apps_button, 0, Qt.AlignmentFlag.AlignBottom)
        head.addWidget(self.filter, 0, Qt.AlignmentFlag.AlignBottom)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(14)
        layout.addLayout(head)
        layout.addWidget(self.splitter, 1)
        self._layout = layout
        self._update_count()

    def add_notice(self, widget: QWidget) -> None:
        """Put a banner or an offer between the title and the table (the first-run notices)."""
        self._layout.insertWidget(self._layout.count() - 1, widget)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        return False

    def _fit_columns(self) -> None:
        """Hide the least important columns when the table is narrow (the details pane shows them)."""
        available = self.table.viewport().width() - NAME_MIN_WIDTH
        widths = self._widths
        hidden: set[Column] = set()
        for column in NARROW_HIDE_ORDER:
            if sum(w for c, w in widths.items() if c not in hidden) <= available:
                break
            hidden.add(column)
        for column in NARROW_HIDE_ORDER:
            self.table.setColumnHidden(column, column in hidden)

    def _measure_columns(self) -> None:
        metrics = self.table.fontMetrics()
        header_metrics = self.table.horizontalHeader().fontMetrics()
        widths: dict[Column, int] = {}
        for column in Column:
            if column == Column.NAME:
                continue
            texts = self.model.column_texts(column)
            content = max((metrics.horizontalAdvance(t) for t in texts), default=0)
            if column == Column.SERVING:
                content += 22  # the state dot
            title = header_metrics.horizontalAdvance(HEADERS[column]) + 18  # room for the sort arrow
            widths[column] = max(content + CELL_PADDING, title + CELL_PADDING)
            self.table.horizontalHeader().resizeSection(column, widths[column])
        self._widths = widths

    # -- feeding ---------------------------------------------------------------------------------------
    def set_records(self, records: list[ModelRecord]) -> None:
        selected = self.selected_id()
        self.model.set_records(records)
        self._measure_columns()
        self.table.setVisible(bool(records))
        self._fit_columns()
        self.empty.setVisible(not records)
        self._update_count()
        if selected and self.select(selected):
            return
        if records:
            self.table.selectRow(0)
        else:
            self.details.show_record(None)

    def set_served(self, model_id: str, state: str) -> None:
        self.model.set_served(model_id, state)
        self._refresh_details()

    def select(self, model_id: str) -> bool:
        row = self.model.row_of(model_id)
        if row < 0:
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not proxy_index.isValid():
            return False
        self.table.selectRow(proxy_index.row())
        self.table.scrollTo(proxy_index)
        return True

    def selected_id(self) -> str:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return str(rows[0].data(ID_ROLE)) if rows else ""

    # -- slots -----------------------------------------------------------------------------------------
    @Slot(QItemSelection, QItemSelection)
    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._refresh_details()

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        model_id = str(index.data(ID_ROLE))
        if model_id and model_id != self.model.served_id:
            self.details.serve_requested.emit(model_id)

    def _refresh_details(self) -> None:
        model_id = self.selected_id()
        row = self.model.row_of(model_id) if model_id else -1
        if row < 0:
            self.details.show_record(None)
            return
        serving = (self.model.served_id == model_id
                   and self.model.served_state not in (ServerState.STOPPED, ServerState.CRASHED))
        self.details.show_record(self.model.record(row), serving=serving)

    @Slot()
    def _update_count(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        size = sum(r.size_bytes for r in self.model.records())
        if total == 0:
            self.count_label.setText("No models yet")
        elif shown == total:
            self.count_label.setText(f"{total} model{'s' if total != 1 else ''} · {human_bytes(size)}")
        else:
            self.count_label.setText(f"{shown} of {total} models shown")
