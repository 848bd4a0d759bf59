"""The window from the keyboard: every shortcut the Help list names does what it says, mnemonics work, and
Tab leaves the library table instead of walking its cells."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QWidget
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.settings import ImportMode
from llama_wrangler.ui.add_model_dialog import AddModelDialog
from llama_wrangler.ui.remove_dialog import RemoveDialog
from llama_wrangler.ui.settings_dialog import SettingsDialog
from llama_wrangler.ui.window_menu import ShortcutsDialog
from tests.support.gguf_files import write_gguf

CTRL = Qt.KeyboardModifier.ControlModifier


def _active(wrangler: WranglerApp, qtbot: QtBot) -> None:
    window = wrangler.window
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def _two_models(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> list[str]:
    files = [write_gguf(tmp_path / f"{stem}.gguf", "llama", name=stem) for stem in ("first", "second")]
    with qtbot.waitSignal(wrangler.actions.library_changed):
        wrangler.library.import_files(files, ImportMode.LINK)
    qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == 2)
    return [r.id for r in wrangler.library.models()]


def _dialog(wrangler: WranglerApp, kind: type[QDialog]) -> QDialog | None:
    found = [d for d in wrangler.window.findChildren(kind) if d.isVisible()]
    return found[0] if found else None


def test_ctrl_q_quits(wrangler: WranglerApp, qtbot: QtBot) -> None:
    _active(wrangler, qtbot)
    wrangler.window.quit_requested.disconnect(wrangler.app.quit)  # the test's own event loop goes on
    with qtbot.waitSignal(wrangler.window.quit_requested, timeout=2000):
        qtbot.keyClick(wrangler.window, Qt.Key.Key_Q, CTRL)


def test_ctrl_f_focuses_the_filter_from_any_page(wrangler: WranglerApp, qtbot: QtBot) -> None:
    _active(wrangler, qtbot)
    wrangler.window.show_page("server")
    qtbot.keyClick(wrangler.window, Qt.Key.Key_F, CTRL)
    assert wrangler.window.current_page_key() == "library"
    qtbot.waitUntil(lambda: wrangler.library_view.filter.hasFocus())


def test_ctrl_comma_ctrl_n_and_ctrl_o_open_their_dialogs(wrangler: WranglerApp, qtbot: QtBot) -> None:
    _active(wrangler, qtbot)
    qtbot.keyClick(wrangler.window, Qt.Key.Key_Comma, CTRL)
    settings = _dialog(wrangler, SettingsDialog)
    assert settings is not None
    settings.reject()
    _active(wrangler, qtbot)
    qtbot.keyClick(wrangler.window, Qt.Key.Key_N, CTRL)
    add = _dialog(wrangler, AddModelDialog)
    assert add is not None
    add.reject()
    _active(wrangler, qtbot)
    qtbot.keyClick(wrangler.window, Qt.Key.Key_O, CTRL)
    picker = wrangler.window.findChild(QFileDialog, "importFilesDialog")
    assert isinstance(picker, QFileDialog) and picker.isVisible()
    assert picker.fileMode() == QFileDialog.FileMode.ExistingFiles
    picker.reject()


def test_import_through_ctrl_o_adds_the_picked_files(wrangler: WranglerApp, qtbot: QtBot,
                                                     tmp_path: Path) -> None:
    wrangler.settings.remember_import_mode(ImportMode.LINK)
    source = write_gguf(tmp_path / "picked.gguf", "llama", name="Picked Model")
    _active(wrangler, qtbot)
    qtbot.keyClick(wrangler.window, Qt.Key.Key_O, CTRL)
    picker = wrangler.window.findChild(QFileDialog, "importFilesDialog")
    assert isinstance(picker, QFileDialog)
    with qtbot.waitSignal(wrangler.actions.imported, timeout=10_000) as done:
        picker.filesSelected.emit([str(source)])  # what the dialog emits when the user presses Open
    [record] = done.args[0]
    # The imported model is selected and in view.
    qtbot.waitUntil(lambda: wrangler.library_view.selected_id() == record.id)


def test_enter_serves_and_delete_asks_to_remove_the_selected_model(wrangler: WranglerApp, qtbot: QtBot,
                                                                   tmp_path: Path) -> None:
    ids = _two_models(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    assert view.select(ids[1])
    _active(wrangler, qtbot)
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus)
    view.details.serve_requested.disconnect()  # no runtime here: only the request is checked
    with qtbot.waitSignal(view.details.serve_requested, timeout=2000) as served:
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert served.args == [ids[1]]
    qtbot.keyClick(view.table, Qt.Key.Key_Delete)
    remove = _dialog(wrangler, RemoveDialog)
    assert remove is not None
    remove.reject()
    assert len(wrangler.library.models()) == 2, "Delete only asks"


def test_enter_and_delete_in_the_filter_edit_text(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _two_models(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    _active(wrangler, qtbot)
    view.filter.setFocus()
    qtbot.waitUntil(view.filter.hasFocus)
    qtbot.keyClicks(view.filter, "sec")
    view.filter.setCursorPosition(0)
    qtbot.keyClick(view.filter, Qt.Key.Key_Delete)
    assert view.filter.text() == "ec"
    assert _dialog(wrangler, RemoveDialog) is None
    qtbot.keyClick(view.filter, Qt.Key.Key_Escape)
    assert view.filter.text() == ""


def test_f5_rescans_the_models_folder(wrangler: WranglerApp, qtbot: QtBot) -> None:
    _active(wrangler, qtbot)
    write_gguf(wrangler.paths.models_dir / "dropped-in-by-hand.gguf", "llama", name="By Hand")
    with qtbot.waitSignal(wrangler.actions.library_changed, timeout=10_000):
        qtbot.keyClick(wrangler.window, Qt.Key.Key_F5)
    assert [r.path.name for r in wrangler.library.models()] == ["dropped-in-by-hand.gguf"]
    assert "rescanned" in wrangler.window.messages.messages[0].text


def test_tab_leaves_the_library_table(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    ids = _two_models(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    assert view.select(ids[0])
    _active(wrangler, qtbot)
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus)
    qtbot.keyClick(view.table, Qt.Key.Key_Tab)
    focused = QApplication.focusWidget()
    assert focused is not view.table and focused is not None
    assert view.details.isAncestorOf(focused), "Tab goes on to the details pane's buttons"
    assert view.selected_id() == ids[0], "and the selected model did not change"
    # Shift+Tab comes back to the table; the arrow keys still move between models.
    qtbot.keyClick(focused, Qt.Key.Key_Backtab)
    assert QApplication.focusWidget() is view.table
    qtbot.keyClick(view.table, Qt.Key.Key_Down)
    assert view.selected_id() == ids[1]


def test_the_shortcuts_are_listed_in_help(wrangler: WranglerApp, qtbot: QtBot) -> None:
    _active(wrangler, qtbot)
    qtbot.keyClick(wrangler.window, Qt.Key.Key_F1)
    dialog = _dialog(wrangler, ShortcutsDialog)
    assert isinstance(dialog, ShortcutsDialog)
    rows = dict(dialog.rows())
    assert rows["Quit"] == "Ctrl+Q"
    assert rows["Find models"] == "Ctrl+F"
    assert rows["Settings"] == "Ctrl+,"
    assert rows["Add model"] == "Ctrl+N" and rows["Import model files"] == "Ctrl+O"
    assert rows["Remove selected model"] == "Del"
    assert rows["Serve selected model"].startswith("Return")
    assert rows["Rescan the models folder"] == "F5"
    assert rows["Library"] == "Ctrl+1"
    dialog.reject()


def test_mnemonics_on_buttons_and_menus(wrangler: WranglerApp, qtbot: QtBot) -> None:
    window = wrangler.window
    assert window.add_button.text() == "&Add model"
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&Model", "&Go", "&Help"]
    for widget in (wrangler.server_view.start_button, wrangler.server_view.stop_button,
                   wrangler.server_view.restart_button, wrangler.library_view.details.remove_button):
        assert "&" in widget.text()
    _active(wrangler, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: _dialog(wrangler, AddModelDialog) is not None)  # a mnemonic animates the click
    add = _dialog(wrangler, AddModelDialog)
    assert add is not None
    add.reject()


def test_ctrl_number_switches_pages(wrangler: WranglerApp, qtbot: QtBot) -> None:
    _active(wrangler, qtbot)
    qtbot.keyClick(wrangler.window, Qt.Key.Key_3, CTRL)
    assert wrangler.window.current_page_key() == "server"
    qtbot.keyClick(wrangler.window, Qt.Key.Key_1, CTRL)
    assert wrangler.window.current_page_key() == "library"
    assert isinstance(wrangler.window.stack.currentWidget(), QWidget)
