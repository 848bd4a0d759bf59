"""The library as a Qt table: one row per :class:`ModelRecord`, plus which one the server is serving.

``DisplayRole`` is what people read; :data:`SORT_ROLE` holds the raw value (bytes, token counts) so that
sorting by size or context is numeric. :class:`LibraryFilterProxy` filters on every text column at once.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QIcon

from llama_wrangler.library.records import ModelRecord
from llama_wrangler.server.state import ServerState
from llama_wrangler.ui.icons import icon
from llama_wrangler.ui.model_names import file_label, title_of
from llama_wrangler.ui.state_look import STATE_LOOKS, look
from llama_wrangler.units import human_bytes, human_tokens

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2

AnyIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    NAME = 0
    ARCHITECTURE = 1
    PARAMETERS = 2
    QUANT = 3
    SIZE = 4
    CONTEXT = 5
    SOURCE = 6
    SERVING = 7


# Short headers (the full words are their tooltips): at 1280 wide the names need the room.
HEADER_TIPS = {Column.ARCHITECTURE: "Architecture", Column.PARAMETERS: "Parameters (weights)"}
HEADERS = {Column.NAME: "Name", Column.ARCHITECTURE: "Arch", Column.PARAMETERS: "Params",
           Column.QUANT: "Quant", Column.SIZE: "Size", Column.CONTEXT: "Context", Column.SOURCE: "Source",
           Column.SERVING: "Server"}


class LibraryTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[ModelRecord] = []
        # Display text and sort keys computed once per record: data() is called for every visible cell on
        # every repaint, so it must be a lookup.
        self._text: list[tuple[str, ...]] = []
        self._keys: list[tuple[object, ...]] = []
        self._served_id = ""
        self._served_state: str = ServerState.STOPPED
        self._loaded: dict[str, str] = {}  # the other loaded models (several can be) -> their server's state
        self._muted = QColor("#8b8d98")
        self._icons: dict[str, QIcon] = {}

    # -- feeding ---------------------------------------------------------------------------------------
    def set_records(self, records: list[ModelRecord]) -> None:
        self.beginResetModel()
        self._records = sorted(records, key=lambda r: title_of(r).lower())
        self._text = [tuple(self._display(r, column) for column in COLUMNS[:-1]) for r in self._records]
        self._keys = [tuple(self._sort_value(r, column, text) for column, text in zip(COLUMNS[:-1], row,
                                                                                      strict=True))
                      for r, row in zip(self._records, self._text, strict=True)]
        self.endResetModel()

    def column_texts(self, column: int) -> list[str]:
        """Every row's text in ``column`` (for sizing columns without asking the view)."""
        if column == Column.SERVING:
            return [entry.short for entry in STATE_LOOKS.values() if entry.short]
        return [row[column] for row in self._text]

    def set_served(self, model_id: str, state: str) -> bool:
        """Mark ``model_id`` as the one the server runs (in ``state``); '' for none. False when unchanged."""
        if (model_id, state) == (self._served_id, self._served_state):
            return False
        old = self._served_id
        self._served_id, self._served_state = model_id, state
        for changed in {old, model_id} - {""}:
            row = self.row_of(changed)
            if row >= 0:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))
        return True

    def set_loaded(self, states: dict[str, str]) -> bool:
        """Mark the other loaded models too (id -> their server's state); the served one is ``set_served``.
        False when unchanged."""
        if states == self._loaded:
            return False
        changed = set(states) ^ set(self._loaded) | {m for m in states if states[m] != self._loaded.get(m)}
        self._loaded = dict(states)
        for model_id in changed:
            row = self.row_of(model_id)
            if row >= 0:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))
        return True

    def _state_of(self, record: ModelRecord) -> str:
        """The state of ``record``'s server ('' when it is not loaded)."""
        if record.id == self._served_id and self._served_state != ServerState.STOPPED:
            return self._served_state
        return self._loaded.get(record.id, "")

    def records(self) -> list[ModelRecord]:
        return list(self._records)

    def record(self, row: int) -> ModelRecord:
        return self._records[row]

    def row_of(self, model_id: str) -> int:
        for row, record in enumerate(self._records):
            if record.id == model_id:
                return row
        return -1

    @property
    def served_id(self) -> str:
        return self._served_id

    @property
    def served_state(self) -> str:
        return self._served_state

    # -- Qt model API ----------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802 (Qt override)
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802 (Qt override)
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 (Qt override)
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(Column(section), HEADERS[Column(section)])
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(Column(section))
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._records):
            return None
        row = index.row()
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == Column.SERVING:
                return self._serving_text(self._records[row])
            return self._text[row][column]
        if role == SORT_ROLE:
            if column == Column.SERVING:
                return 1 if self._serving_text(self._records[row]) else 0
            return self._keys[row][column]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return ALIGNMENTS[column]
        record = self._records[row]
        state = self._state_of(record)
        served = bool(state)
        if role == ID_ROLE:
            return record.id
        if role == Qt.ItemDataRole.DecorationRole and column in (Column.NAME, Column.SERVING) and served:
            return self._icon(look(state).icon)
        if role == Qt.ItemDataRole.ForegroundRole and record.missing:
            return self._muted
        if role == Qt.ItemDataRole.FontRole and served and column == Column.NAME:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            if record.missing:
                return f"The file is missing: {record.path}"
            words = f"\n{look(state).words}" if served else ""
            return f"{title_of(record)}\n{file_label(record)}\n{record.path.parent}{words}"
        return None

    def _serving_text(self, record: ModelRecord) -> str:
        state = self._state_of(record)
        return look(state).short if state else ""

    @staticmethod
    def _display(record: ModelRecord, column: Column) -> str:
        info = record.info
        if column == Column.NAME:
            return title_of(record) + ("  (missing)" if record.missing else "")
        if column == Column.ARCHITECTURE:
            return info.architecture or "—"
        if column == Column.PARAMETERS:
            return info.parameter_label if info.parameter_count or info.size_label else "—"
        if column == Column.QUANT:
            return info.quant or "—"
        if column == Column.SIZE:
            return human_bytes(record.size_bytes)
        if column == Column.CONTEXT:
            return human_tokens(info.context_length)
        return record.source.words

    @staticmethod
    def _sort_value(record: ModelRecord, column: Column, text: str) -> object:
        info = record.info
        if column == Column.PARAMETERS:
            return info.parameter_count
        if column == Column.SIZE:
            return record.size_bytes
        if column == Column.CONTEXT:
            return info.context_length or 0
        return text.lower()

    def _icon(self, name: str) -> QIcon:
        if name not in self._icons:
            self._icons[name] = icon(name)
        return self._icons[name]


def _alignment(column: Column) -> int:
    if column in (Column.PARAMETERS, Column.SIZE, Column.CONTEXT):
        return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


COLUMNS = tuple(Column)  # SERVING last: its text changes with the server, so it is not cached
COLUMN_COUNT = len(COLUMNS)
ALIGNMENTS = tuple(_alignment(column) for column in COLUMNS)


class LibraryFilterProxy(QSortFilterProxyModel):
    """Case-insensitive filter on every column; numeric sorting via :data:`SORT_ROLE`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def set_filter_text(self, text: str) -> None:
        self.setFilterFixedString(text.strip())

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:  # noqa: N802 (Qt override)
        if super().filterAcceptsRow(source_row, source_parent):
            return True
        # The file name and id are not columns, but people search for what they downloaded.
        needle = self.filterRegularExpression()
        model = self.sourceModel()
        if not needle.pattern() or not isinstance(model, LibraryTableModel):
            return False
        record = model.record(source_row)
        return bool(needle.match(record.path.name).hasMatch() or needle.match(record.id).hasMatch())
