"""The Add-model dialog's Hub search results: GGUF repos with their downloads and likes, ordered by
downloads or trending; choosing one asks the dialog to inspect it (its quants, sizes and fit)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.sources.hf_search import SearchHit, SearchSort

SORT_LABELS = {SearchSort.DOWNLOADS: "Most downloaded", SearchSort.TRENDING: "Trending"}


class SearchResults(QWidget):
    """Signals:
        repo_chosen(str): the user picked a repo (its id).
        sort_changed(str): the order changed (a :class:`SearchSort` value): search again.
    """

    repo_chosen = Signal(str)
    sort_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchResults")
        self.caption = QLabel()
        self.caption.setProperty("muted", True)
        self.sort = QComboBox()
        for sort, label in SORT_LABELS.items():
            self.sort.addItem(label, sort.value)
        self.sort.currentIndexChanged.connect(lambda _i: self.sort_changed.emit(self.current_sort))
        self.tree = QTreeWidget()
        self.tree.setRootIsDecorated(False)
        self.tree.setHeaderLabels(["Repository", "Downloads", "Likes"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.caption, 1)
        top.addWidget(self.sort)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)

    @property
    def current_sort(self) -> str:
        return str(self.sort.currentData())

    def show_hits(self, query: str, hits: list[SearchHit]) -> None:
        self.tree.clear()
        for hit in hits:
            item = QTreeWidgetItem([hit.repo_id, f"{hit.downloads:,}", f"{hit.likes:,}"])
            item.setData(0, Qt.ItemDataRole.UserRole, hit.repo_id)
            for column in (1, 2):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
        count = len(hits)
        self.caption.setText(f"{count} GGUF repo{'s' if count != 1 else ''} for “{query}” — pick one to see its "
                             "quants" if hits else f"No GGUF repos match “{query}”.")
        self.show()

    def repo_ids(self) -> list[str]:
        found = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item.text(0) for item in found if item is not None]

    def choose(self, repo_id: str) -> None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item is not None and item.text(0) == repo_id:
                self.tree.setCurrentItem(item)
                return

    @Slot()
    def _on_selection(self) -> None:
        item = self.tree.currentItem()
        if item is not None:
            self.repo_chosen.emit(str(item.data(0, Qt.ItemDataRole.UserRole)))
