"""The Load settings dialog: opened from the details pane and the table's right-click menu, saved through
ModelActions into the library, checked inline, usable from the keyboard."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.registry import ModelRecord
from llama_wrangler.settings import ImportMode
from llama_wrangler.ui.load_settings_dialog import IDLE_AFTER, IDLE_NEVER, LoadSettingsDialog
from tests.support.gguf_files import write_gguf


def one_model(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> ModelRecord:
    with qtbot.waitSignal(wrangler.actions.library_changed):
        [record] = wrangler.library.import_files([write_gguf(tmp_path / "tiny-Q8_0.gguf")], ImportMode.LINK)
    qtbot.waitUntil(lambda: wrangler.library_view.select(record.id))
    return record


def open_from_details(wrangler: WranglerApp) -> LoadSettingsDialog:
    wrangler.library_view.details.load_button.click()
    [dialog] = [d for d in wrangler.window.findChildren(LoadSettingsDialog) if d.isVisible()]
    return dialog


def test_placeholders_show_the_server_settings(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    one_model(wrangler, qtbot, tmp_path)
    dialog = open_from_details(wrangler)
    assert dialog.numbers["context_size"].placeholderText() == "Default (4,096 from Settings)"
    assert dialog.numbers["parallel"].placeholderText() == "Default (1 from Settings)"
    assert dialog.numbers["gpu_layers"].placeholderText() == "Default (all from Settings)"
    assert all(not edit.text() for edit in dialog.numbers.values())
    assert dialog.settings() == LoadSettings()
    dialog.reject()


def test_saving_stores_them_and_the_details_pane_sums_them_up(wrangler: WranglerApp, qtbot: QtBot,
                                                              tmp_path: Path) -> None:
    record = one_model(wrangler, qtbot, tmp_path)
    details = wrangler.library_view.details
    assert "Load" not in [details.form.itemAt(row, details.form.ItemRole.LabelRole).widget().text()
                          for row in range(details.form.rowCount())]
    dialog = open_from_details(wrangler)
    dialog.numbers["context_size"].setText("8192")
    dialog.numbers["parallel"].setText("2")
    dialog.template.setEditText("chatml")
    dialog.idle_mode.setCurrentIndex(dialog.idle_mode.findData(IDLE_AFTER))
    dialog.idle_minutes.setValue(15)
    dialog.pinned.setChecked(True)
    with qtbot.waitSignal(wrangler.actions.library_changed), qtbot.waitSignal(dialog.accepted):
        dialog.save_button.click()
    expected = LoadSettings(context_size=8192, parallel=2, chat_template="chatml", idle_ttl_s=900, pinned=True)
    assert wrangler.library.get(record.id).load == expected
    qtbot.waitUntil(lambda: details.record is not None and details.record.load == expected)
    rows = {details.form.itemAt(row, details.form.ItemRole.LabelRole).widget().text():
            details.form.itemAt(row, details.form.ItemRole.FieldRole).widget().text()
            for row in range(details.form.rowCount())}
    assert rows["Load"] == "ctx 8192 · 2 slots · template chatml · unload after 15 min · pinned"

    # Opened again, it shows what is stored; Reset + Save goes back to the server settings.
    again = open_from_details(wrangler)
    assert again.numbers["context_size"].text() == "8192" and again.template.currentText() == "chatml"
    assert again.idle_minutes.value() == 15 and again.pinned.isChecked()
    again.reset()
    with qtbot.waitSignal(wrangler.actions.library_changed):
        again.save_button.click()
    assert wrangler.library.get(record.id).load == LoadSettings()


def test_bad_values_are_shown_inline_and_nothing_is_saved(wrangler: WranglerApp, qtbot: QtBot,
                                                          tmp_path: Path) -> None:
    record = one_model(wrangler, qtbot, tmp_path)
    dialog = open_from_details(wrangler)
    for field, text, words in (("parallel", "0", "between 1 and 256"), ("context_size", "100", "at least 256"),
                               ("threads", "lots", "not a whole number")):
        dialog.reset()
        dialog.numbers[field].setText(text)
        dialog.save_button.click()
        assert dialog.isVisible() and words in dialog.error_text()
        assert dialog.numbers[field].property("invalid") is True
        assert dialog.focusWidget() is dialog.numbers[field] or not QApplication.focusWindow()
    dialog.reset()
    for bad_template in ("not a name!", "relative/t.jinja"):
        dialog.template.setEditText(bad_template)
        dialog.save_button.click()
        assert dialog.isVisible() and "template" in dialog.error_text()
    dialog.template.setEditText("")
    dialog.extra_args.setText("--port 9999")
    dialog.save_button.click()
    assert "--port" in dialog.error_text()
    assert wrangler.library.get(record.id).load == LoadSettings()
    dialog.extra_args.clear()
    dialog.idle_mode.setCurrentIndex(dialog.idle_mode.findData(IDLE_NEVER))
    with qtbot.waitSignal(wrangler.actions.library_changed), qtbot.waitSignal(dialog.accepted):
        dialog.save_button.click()
    assert wrangler.library.get(record.id).load == LoadSettings(idle_ttl_s=0)


def test_keyboard_enter_saves_escape_cancels_and_tab_walks_the_fields(wrangler: WranglerApp, qtbot: QtBot,
                                                                      tmp_path: Path) -> None:
    record = one_model(wrangler, qtbot, tmp_path)
    dialog = open_from_details(wrangler)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: dialog.focusWidget() is dialog.numbers["context_size"])
    order = [dialog.focusWidget()]
    for _ in range(4):
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
        order.append(dialog.focusWidget())
    assert order == [dialog.numbers[name] for name in ("context_size", "gpu_layers", "threads", "parallel")] + [
        dialog.template]
    qtbot.keyClicks(dialog.numbers["parallel"], "3")
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(dialog.numbers["parallel"], Qt.Key.Key_Escape)
    assert wrangler.library.get(record.id).load == LoadSettings()
    dialog = open_from_details(wrangler)
    qtbot.keyClicks(dialog.numbers["parallel"], "3")
    with qtbot.waitSignal(wrangler.actions.library_changed):
        qtbot.keyClick(dialog.numbers["parallel"], Qt.Key.Key_Return)
    assert wrangler.library.get(record.id).load == LoadSettings(parallel=3)


def test_the_tables_right_click_menu_and_the_model_menu_offer_it(wrangler: WranglerApp, qtbot: QtBot,
                                                                 tmp_path: Path) -> None:
    one_model(wrangler, qtbot, tmp_path)
    view = wrangler.library_view
    assert view.table.contextMenuPolicy() is Qt.ContextMenuPolicy.ActionsContextMenu
    offered = [action.text() for action in view.table.actions() if isinstance(action, QAction)]
    assert "&Load settings…" in offered
    assert view.load_settings_action in view.menu_actions()
    view.load_settings_action.trigger()
    dialog = wrangler.window.findChild(LoadSettingsDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.reject()


def test_choose_file_picks_a_jinja_template(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QFileDialog

    from llama_wrangler.ui.load_settings_dialog import CHOOSE_FILE

    record = one_model(wrangler, qtbot, tmp_path)
    template = tmp_path / "mine.jinja"
    template.write_text("{{ messages }}", encoding="utf-8")
    dialog = open_from_details(wrangler)
    index = dialog.template.findText(CHOOSE_FILE)
    dialog.template.setCurrentIndex(index)
    dialog.template.activated.emit(index)  # as a click on the item does
    picker = dialog.findChild(QFileDialog, "chatTemplateFile")
    assert picker is not None and picker.isVisible()
    assert dialog.template.currentText() == ""  # "Choose file…" itself is never the value
    picker.fileSelected.emit(str(template))
    assert dialog.template.currentText() == str(template)
    picker.reject()
    with qtbot.waitSignal(wrangler.actions.library_changed):
        dialog.save_button.click()
    assert wrangler.library.get(record.id).load == LoadSettings(chat_template=str(template))
