"""The library table: columns, numeric sorting, filtering, the served marker and the details pane."""

from __future__ import annotations

from pathlib import Path

from gguf import GGUFValueType
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.settings import ImportMode
from llama_wrangler.ui.library_model import Column
from tests.support.gguf_files import write_gguf


def _populate(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    specs = [("small-Q8_0", "llama", 2048, 7, 8), ("medium-Q4_K_M", "qwen2", 32768, 15, 64),
             ("large-F16", "gemma2", 8192, 1, 256)]
    files = []
    for stem, arch, ctx, ftype, rows in specs:
        import numpy as np

        files.append(write_gguf(tmp_path / f"{stem}.gguf", arch, name=stem, kv={
            f"{arch}.context_length": (ctx, GGUFValueType.UINT32),
            "general.file_type": (ftype, GGUFValueType.UINT32)},
            tensors={"token_embd.weight": np.zeros((rows, 256), dtype=np.float32)}))
    with qtbot.waitSignal(wrangler.actions.library_changed):
        wrangler.library.import_files(files, ImportMode.LINK)
    qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == 3)


def _column(wrangler: WranglerApp, column: Column) -> list[str]:
    proxy = wrangler.library_view.proxy
    return [proxy.index(row, column).data() for row in range(proxy.rowCount())]


def test_columns_show_the_gguf_metadata(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _populate(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    view.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
    assert _column(wrangler, Column.NAME) == ["large-F16", "medium-Q4_K_M", "small-Q8_0"]
    assert _column(wrangler, Column.ARCHITECTURE) == ["gemma2", "qwen2", "llama"]
    assert _column(wrangler, Column.QUANT) == ["F16", "Q4_K_M", "Q8_0"]
    assert _column(wrangler, Column.CONTEXT) == ["8K", "32K", "2K"]
    assert _column(wrangler, Column.SOURCE) == ["Imported"] * 3
    assert view.count_label.text().startswith("3 models")


def test_sorting_is_numeric_for_sizes_and_context(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _populate(wrangler, qtbot, tmp_path)
    table = wrangler.library_view.table
    table.sortByColumn(Column.SIZE, Qt.SortOrder.AscendingOrder)
    assert _column(wrangler, Column.NAME) == ["small-Q8_0", "medium-Q4_K_M", "large-F16"]
    table.sortByColumn(Column.CONTEXT, Qt.SortOrder.DescendingOrder)
    # 32K > 8K > 2K: a text sort would put "8K" first.
    assert _column(wrangler, Column.NAME) == ["medium-Q4_K_M", "large-F16", "small-Q8_0"]


def test_filter_matches_any_column(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _populate(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    view.filter.setText("qwen")
    assert _column(wrangler, Column.NAME) == ["medium-Q4_K_M"]
    assert view.count_label.text() == "1 of 3 models shown"
    view.filter.setText("Q8_0")
    assert _column(wrangler, Column.NAME) == ["small-Q8_0"]
    view.filter.clear()
    assert len(_column(wrangler, Column.NAME)) == 3


def test_details_pane_follows_the_selection(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _populate(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    record = next(r for r in wrangler.library.models() if r.path.stem == "medium-Q4_K_M")
    assert view.select(record.id)
    assert view.details.record == record
    assert view.details.title.text() == record.name
    labels = [view.details.form.itemAt(i, view.details.form.ItemRole.LabelRole).widget().text()
              for i in range(view.details.form.rowCount())]
    assert {"Architecture", "Context length", "Path", "SHA-256", "Chat template"} <= set(labels)
    assert not view.details.requantize_button.isEnabled(), "Q4_K_M is already quantized"
    f16 = next(r for r in wrangler.library.models() if r.path.stem == "large-F16")
    view.select(f16.id)
    assert view.details.requantize_button.isEnabled()


def test_served_model_is_marked(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _populate(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    record = wrangler.library.models()[0]
    view.set_served(record.id, "loading")
    row = view.model.row_of(record.id)
    assert view.model.index(row, Column.SERVING).data() == "Loading"
    assert view.model.index(row, Column.SERVING).data(Qt.ItemDataRole.DecorationRole) is not None
    view.set_served(record.id, "stopped")
    assert view.model.index(row, Column.SERVING).data() == ""


def test_remove_asks_and_deletes_only_when_told(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    from llama_wrangler.ui.remove_dialog import RemoveDialog

    source = write_gguf(tmp_path / "owned.gguf", name="owned")
    [record] = wrangler.library.import_files([source], ImportMode.COPY)
    qtbot.waitUntil(lambda: wrangler.library_view.select(record.id))
    wrangler.library_view.details.remove_button.click()
    dialog = wrangler.window.findChild(RemoveDialog)
    assert dialog is not None and dialog.delete_file.isEnabled()
    dialog.delete_file.setChecked(True)
    with qtbot.waitSignal(wrangler.actions.library_changed):
        dialog.accept()
    assert wrangler.library.models() == []
    assert not record.path.exists()
    assert source.exists(), "the original of a copy is never touched"
    qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == 0)
    assert wrangler.library_view.empty.isVisibleTo(wrangler.library_view)
