"""The Library page: a filterable, sortable table of models and the details pane beside it."""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QEvent, QItemSelection, QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
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
from llama_wrangler.ui.window_menu import make_action
from llama_wrangler.units import human_bytes

# Columns hidden first when the table gets narrow, least important first.
NARROW_HIDE_ORDER = (Column.SOURCE, Column.ARCHITECTURE, Column.CONTEXT, Column.PARAMETERS)
TABLE_ONLY = Qt.ShortcutContext.WidgetShortcut
NAME_MIN_WIDTH = 170
CELL_PADDING = 26  # the item's padding (8 + 8) and the view's margins, so measured text is never cut


class LibraryView(QWidget):
    """Shows records it is given (:meth:`set_records`) and the served model (:meth:`set_served`).
    Actions leave through :attr:`details`' signals; the view itself changes nothing.

    Its commands (:meth:`menu_actions`): Find (Ctrl+F), Serve (Enter, in the table), Load settings
    (Ctrl+Shift+L, in the table), Remove (Delete, in the table), Rescan (F5); the table's right-click menu
    offers Serve, Load settings and Remove.

    Signals:
        reveal_requested(): show this page (a shortcut was used while another page was in front).
        rescan_requested(): look for added, changed or vanished model files.
        find_other_apps_requested(): look for models other apps downloaded (Hugging Face cache, Ollama,
            LM Studio) to use in place.
    """

    reveal_requested = Signal()
    rescan_requested = Signal()
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
        self.filter.textChanged.connect(self._restore_selection)
        self._last_selected = ""

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        # Tab moves on to the next control (the details pane) instead of walking the cells and changing
        # the selected model; arrow keys still move between rows.
        self.table.setTabKeyNavigation(False)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(34)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        # Fixed widths measured from the text once per refresh (ResizeToContents would query every cell
        # on every change: seconds with a few hundred models).
        # The user may widen a column by dragging; that width is kept (and remembered between sessions).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(self._on_section_resized)
        self._user_widths: dict[int, int] = {}
        self._pending_select = ""
        self._measuring = False
        header.setMinimumSectionSize(56)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.table.viewport().installEventFilter(self)

        self.empty = QLabel("Your library is empty.\n\nDrop .gguf files or folders here, or use "
                            "“Add model” to download one from Hugging Face.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("muted", True)
        self.empty.setWordWrap(True)
        self.no_matches = QLabel(self.table.viewport())
        self.no_matches.setObjectName("noMatches")
        self.no_matches.setProperty("muted", True)
        self.no_matches.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_matches.setWordWrap(True)
        self.no_matches.hide()

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
        self._make_actions()
        self._update_count()

    def add_notice(self, widget: QWidget) -> None:
        """Put a banner or an offer between the title and the table (the first-run notices)."""
        self._layout.insertWidget(self._layout.count() - 1, widget)

    def _make_actions(self) -> None:
        self.find_action = make_action(self, "&Find models", QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self.focus_filter)
        self.serve_action = make_action(self, "&Serve selected model", "Return", "Enter", context=TABLE_ONLY)
        self.serve_action.triggered.connect(self._serve_selected)
        self.remove_action = make_action(self, "&Remove selected model…", QKeySequence.StandardKey.Delete,
                                         context=TABLE_ONLY)
        self.remove_action.triggered.connect(self._remove_selected)
        self.load_settings_action = make_action(self, "&Load settings…", "Ctrl+Shift+L", context=TABLE_ONLY)
        self.load_settings_action.triggered.connect(self._load_settings_of_selected)
        self.rescan_action = make_action(self, "Re&scan the models folder", QKeySequence.StandardKey.Refresh)
        self.rescan_action.triggered.connect(self.rescan_requested)
        self.clear_filter_action = make_action(self, "Clear the filter", "Escape", context=TABLE_ONLY)
        self.clear_filter_action.triggered.connect(self.filter.clear)
        self.filter.addAction(self.clear_filter_action)
        # Enter and Delete belong to the table: in the filter field they keep their text-editing meaning.
        self.table.addAction(self.serve_action)
        self.table.addAction(self.load_settings_action)
        self.table.addAction(self.remove_action)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)  # a right-click offers them

    def menu_actions(self) -> list[QAction | None]:
        """The Model menu (``None``: a separator)."""
        return [self.find_action, None, self.serve_action, self.load_settings_action, self.remove_action, None,
                self.rescan_action]

    @Slot()
    def focus_filter(self) -> None:
        self.reveal_requested.emit()
        self.filter.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter.selectAll()

    @Slot()
    def _serve_selected(self) -> None:
        model_id = self.selected_id()
        row = self.model.row_of(model_id) if model_id else -1
        if row >= 0 and model_id != self.model.served_id and not self.model.record(row).missing:
            self.details.serve_requested.emit(model_id)

    @Slot()
    def _load_settings_of_selected(self) -> None:
        model_id = self.selected_id()
        if model_id:
            self.details.load_settings_requested.emit(model_id)

    @Slot()
    def _remove_selected(self) -> None:
        model_id = self.selected_id()
        if model_id:
            self.details.remove_requested.emit(model_id)

    # -- remembered layout -----------------------------------------------------------------------------
    def save_layout(self) -> dict[str, QByteArray]:
        widths = json.dumps({str(column): width for column, width in self._user_widths.items()})
        return {"splitter": self.splitter.saveState(), "columns": QByteArray(widths.encode())}

    def restore_layout(self, state: dict[str, QByteArray]) -> None:
        if "splitter" in state:
            self.splitter.restoreState(state["splitter"])
        try:
            saved = json.loads(bytes(state["columns"].data()).decode()) if "columns" in state else {}
        except (ValueError, UnicodeDecodeError):
            saved = {}  # an unreadable entry: measured widths instead
        if isinstance(saved, dict):
            self._user_widths = {int(k): int(v) for k, v in saved.items()
                                 if str(k).isdigit() and int(k) in set(Column) and isinstance(v, int) and v > 20}
            self._measure_columns()
            self._fit_columns()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
            self.no_matches.setGeometry(self.table.viewport().rect().adjusted(16, 16, -16, -16))
        return False

    def _fit_columns(self) -> None:
        """Hide the least important columns when the table is narrow (the details pane shows them). The
        server's state is drawn in the Name column (a dot, bold): a column of its own, empty for every model
        but one, would take the names' room."""
        available = self.table.viewport().width() - NAME_MIN_WIDTH
        widths = self._widths
        hidden: set[Column] = {Column.SERVING}
        self.table.setColumnHidden(Column.SERVING, True)
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
            title = header_metrics.horizontalAdvance(HEADERS[column]) + 16  # room for the sort arrow
            widths[column] = self._user_widths.get(column, max(content + CELL_PADDING, title + CELL_PADDING))
            self._measuring = True
            try:
                self.table.horizontalHeader().resizeSection(column, widths[column])
            finally:
                self._measuring = False
        self._widths = widths

    @Slot(int, int, int)
    def _on_section_resized(self, column: int, _old: int, new: int) -> None:
        if not self._measuring and column != Column.NAME and new > 0 and self.table.isVisible():
            self._user_widths[column] = new
            self._widths[Column(column)] = new

    # -- feeding ---------------------------------------------------------------------------------------
    def select_when_listed(self, model_id: str) -> None:
        """Select and scroll to ``model_id`` now, or as soon as it appears (an import just finished; the
        table refreshes a moment later)."""
        self._pending_select = "" if self.select(model_id) else model_id

    def set_records(self, records: list[ModelRecord]) -> None:
        selected = self._pending_select or self.selected_id()
        self._pending_select = ""
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
        # Called on every server event: the details pane is rebuilt only when what it shows changed.
        if self.model.set_served(model_id, state):
            self._fit_columns()
            self._refresh_details()

    def set_loaded(self, states: dict[str, str]) -> None:
        """The other models loaded beside the served one (id -> state), marked like it."""
        if self.model.set_loaded(states):
            self._fit_columns()

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
        self._last_selected = self.selected_id() or self._last_selected
        self._refresh_details()

    @Slot()
    def _restore_selection(self) -> None:
        """A filter hid the selected model and then showed it again: select it again."""
        if not self.selected_id() and self._last_selected:
            self.select(self._last_selected)

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
        no_match = total > 0 and shown == 0
        self.no_matches.setText(f"No models match “{self.filter.text().strip()}”.\n"
                                "Clear the filter (Esc) to see all of them." if no_match else "")
        self.no_matches.setGeometry(self.table.viewport().rect().adjusted(16, 16, -16, -16))
        self.no_matches.setVisible(no_match)
