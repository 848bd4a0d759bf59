"""What the window tells the user: message history, "no matches", drops it refuses, error boxes with real
details, names from the GGUF header, the Name column's room, failed jobs, and a layout that is remembered."""

from __future__ import annotations

from pathlib import Path

from gguf import GGUFValueType
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.errors import DownloadError
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.server.state import ServerState
from llama_wrangler.settings import ImportMode
from llama_wrangler.ui.library_model import Column
from llama_wrangler.ui.model_names import picker_label
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobState
from tests.support.gguf_files import write_gguf
from tests.support.gui import app_session


def _import(wrangler: WranglerApp, qtbot: QtBot, files: list[Path]) -> None:
    with qtbot.waitSignal(wrangler.actions.library_changed):
        wrangler.library.import_files(files, ImportMode.LINK)
    qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == len(wrangler.library.models()))


def test_messages_are_kept_with_their_full_text(wrangler: WranglerApp, qtbot: QtBot) -> None:
    before = len(wrangler.window.messages.messages)  # start-up notes (no runtime here)
    long = "Downloaded bartowski/Llama-3.2-3B-Instruct-GGUF Q4_K_M into the library " + "and more words " * 20
    wrangler.messenger.info(long)
    wrangler.messenger.warning("Second message")
    bar = wrangler.window.statusBar()
    assert bar.currentMessage() == "Second message" and bar.toolTip() == "Second message"
    history = wrangler.window.messages
    assert [m.text for m in history.messages][:2] == ["Second message", long]
    assert history.text() == f"Messages ({before + 2})"
    dialog = history.open_list()
    item = dialog.list.item(1)
    assert item is not None
    assert long in item.toolTip()  # the whole text, however long
    dialog.list.setCurrentRow(1)
    assert long in dialog.full.toPlainText()
    dialog.reject()


def test_show_details_only_when_there_are_details(wrangler: WranglerApp) -> None:
    wrangler.messenger.error("Download failed.")
    box = wrangler.window.error_box
    assert box is not None and box.detailedText() == ""
    wrangler.messenger.error("Download failed.", details="Download failed.")  # the same words again
    assert box.detailedText() == ""
    wrangler.messenger.error("Server crashed.", details="Server crashed.\nerror: out of memory")
    assert "out of memory" in box.detailedText()
    box.close()


def test_a_filter_without_matches_says_so(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _import(wrangler, qtbot, [write_gguf(tmp_path / "only-one.gguf", name="Only One")])
    view = wrangler.library_view
    view.filter.setText("zzz-nothing")
    assert view.no_matches.isVisibleTo(view)
    assert "No models match “zzz-nothing”" in view.no_matches.text()
    view.filter.setText("only")
    assert not view.no_matches.isVisibleTo(view)


def _drag(target: QApplication | object, files: list[Path]) -> tuple[QDragMoveEvent, QDropEvent, QMimeData]:
    """Enter and move over ``target``; the drop is returned unsent (with its data, which must outlive it)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, QDragEnterEvent(QPoint(50, 50), *args))  # type: ignore[arg-type]
    move = QDragMoveEvent(QPoint(60, 60), *args)
    QApplication.sendEvent(target, move)  # type: ignore[arg-type]
    drop = QDropEvent(QPoint(60, 60), *args)
    return move, drop, mime


def test_a_non_gguf_drag_gets_the_no_entry_cursor_and_its_drop_is_refused(
        wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    move, drop, _mime = _drag(wrangler.window, [notes])
    assert not move.isAccepted() and move.dropAction() == Qt.DropAction.IgnoreAction
    QApplication.sendEvent(wrangler.window, drop)
    assert not drop.isAccepted()
    assert [job for job in wrangler.jobs.jobs() if job.kind == JobKind.IMPORT] == []
    model = write_gguf(tmp_path / "fine.gguf", name="Fine")
    move, _drop, _mime2 = _drag(wrangler.window, [model])
    assert move.isAccepted()
    wrangler.window.drop_overlay.hide()


def test_titles_come_from_general_name(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    titled = write_gguf(tmp_path / "Llama-3.2-1B-Instruct-Q4_K_M.gguf", name="Llama 3.2 1B Instruct",
                        kv={"general.file_type": (15, GGUFValueType.UINT32)})
    untitled = write_gguf(tmp_path / "mystery-Q8_0.gguf", kv={"general.name": None,
                                                               "general.file_type": (7, GGUFValueType.UINT32)})
    _import(wrangler, qtbot, [titled, untitled])
    view = wrangler.library_view
    names = {view.proxy.index(r, Column.NAME).data() for r in range(view.proxy.rowCount())}
    assert names == {"Llama 3.2 1B Instruct", "mystery-Q8_0"}
    record = wrangler.library.get("Llama 3.2 1B Instruct")  # the title names it, as clients may
    assert view.select(record.id)
    assert view.details.title.text() == "Llama 3.2 1B Instruct"
    assert "Llama-3.2-1B-Instruct-Q4_K_M.gguf" in view.details.file_name.text().replace("\u200b", "")
    assert picker_label(record) == "Llama 3.2 1B Instruct · Q4_K_M"
    mystery = wrangler.library.get("mystery-Q8_0")
    assert picker_label(mystery) == "mystery-Q8_0", "the quant is not repeated"
    combo = wrangler.server_view.model_combo
    assert sorted(combo.itemText(i) for i in range(combo.count())) == ["Llama 3.2 1B Instruct · Q4_K_M",
                                                                        "mystery-Q8_0"]
    view.filter.setText("Instruct-Q4")  # the file name is searchable too
    assert view.proxy.rowCount() == 1


def test_the_name_column_gets_the_room_at_1280(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    files = [write_gguf(tmp_path / f"model-{i}.gguf", "qwen2", name=f"A Rather Long Model Name Number {i}")
             for i in range(3)]
    _import(wrangler, qtbot, files)
    window = wrangler.window
    window.resize(1280, 800)
    window.show()
    view = wrangler.library_view
    qtbot.waitUntil(lambda: view.table.isVisible())
    table = view.table
    served = wrangler.library.models()[0].id
    for state in (ServerState.STOPPED, ServerState.READY):
        view.set_served(served if state == ServerState.READY else "", state)
        # The state is a dot in the Name column, not a column of its own that is empty for every other row.
        assert table.isColumnHidden(Column.SERVING)
        assert not table.isColumnHidden(Column.ARCHITECTURE) and not table.isColumnHidden(Column.SOURCE)
        assert table.columnWidth(Column.NAME) >= 200
    row = view.proxy.mapFromSource(view.model.index(view.model.row_of(served), Column.NAME))
    assert row.data(Qt.ItemDataRole.DecorationRole) is not None
    assert "Serving" in row.data(Qt.ItemDataRole.ToolTipRole)
    # Every shown text fits its column (nothing is cut to "Q4_K…").
    metrics = table.fontMetrics()
    for column in (Column.ARCHITECTURE, Column.PARAMETERS, Column.QUANT, Column.SIZE, Column.CONTEXT,
                   Column.SOURCE):
        widest = max(metrics.horizontalAdvance(view.proxy.index(r, column).data())
                     for r in range(view.proxy.rowCount()))
        assert widest + 16 <= table.columnWidth(column), column


def _failing(progress: ProgressCallback, cancel: CancelToken) -> object:
    raise DownloadError("The connection was reset after 812 MB; the partial file was kept.")


def test_a_failed_job_looks_failed_and_retry_shows_its_result(wrangler: WranglerApp, qtbot: QtBot) -> None:
    attempts: list[int] = []

    def flaky(progress: ProgressCallback, cancel: CancelToken) -> object:
        attempts.append(1)
        if len(attempts) < 3:
            return _failing(progress, cancel)
        return None

    job = wrangler.jobs.submit(Job(JobKind.DOWNLOAD, "org/repo · Q4_K_M", flaky))
    qtbot.waitUntil(lambda: job.state == JobState.FAILED)
    row = wrangler.downloads_view.rows[job.job_id]
    assert row.badge.text() == "Failed" and row.badge.property("tone") == "bad"
    assert row.status.property("tone") == "bad" and row.bar.property("tone") == "bad"
    assert row.status.text().startswith("Failed at ") and "connection was reset" in row.status.text()
    assert row.retry_button.isVisibleTo(row)
    row.retry_button.click()
    qtbot.waitUntil(lambda: job.state == JobState.FAILED and len(attempts) == 2)
    assert row.status.text().startswith("Failed again (attempt 2) at ")
    row.retry_button.click()
    qtbot.waitUntil(lambda: job.state == JobState.DONE)
    assert row.badge.text() == "Done" and row.badge.property("tone") == "ok"
    assert row.status.text().startswith("Done at ") and row.status.text().endswith("(attempt 3)")


def test_window_size_splitter_and_columns_are_remembered(qapp: QApplication, app_paths: AppPaths,
                                                         qtbot: QtBot, tmp_path: Path) -> None:
    first = app_session(qapp, app_paths)
    wrangler = next(first)
    try:
        _import(wrangler, qtbot, [write_gguf(tmp_path / "m.gguf", name="M")])
        wrangler.window.resize(1100, 700)
        view = wrangler.library_view
        view.splitter.setSizes([500, 380])
        sizes = view.splitter.sizes()
        qtbot.waitUntil(view.table.isVisible)
        view.table.horizontalHeader().resizeSection(Column.QUANT, 150)  # as a user dragging the edge
    finally:
        first.close()
    assert (app_paths.config_dir / "window-state.ini").is_file()
    second = app_session(qapp, app_paths)
    wrangler = next(second)
    try:
        qtbot.waitUntil(wrangler.library_view.table.isVisible)
        assert (wrangler.window.width(), wrangler.window.height()) == (1100, 700)
        assert wrangler.library_view.splitter.sizes() == sizes
        assert wrangler.library_view.table.columnWidth(Column.QUANT) == 150
    finally:
        second.close()
