"""Settings as a user edits them: validation as you type with the settings model's own rules, nothing
invalid ever saved, plain words, a wheel that scrolls the page, and the tray option where there is no tray."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLineEdit, QScrollArea, QSpinBox
from pytestqt.qtbot import QtBot

from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.settings import QUANT_CHOICES, ServerSettings, Settings, load_settings
from llama_wrangler.ui.settings_dialog import NO_TRAY_NOTE, SettingsDialog


def _dialog(qtbot: QtBot, tmp_path: Path, *, tray: bool = True) -> tuple[SettingsDialog, SettingsStore]:
    store = SettingsStore(Settings(), tmp_path / "settings.json")
    dialog = SettingsDialog(store, tray_available=tray)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, store


def _line(dialog: SettingsDialog, dotted: str) -> QLineEdit:
    edit = dialog.editor(dotted).input
    assert isinstance(edit, QLineEdit)
    return edit


@pytest.mark.parametrize("host", ["my host!", "exa mple.com", "-bad.example", "a..b", "300.1.2.3", "host_name"])
def test_a_bad_host_is_shown_and_never_saved(qtbot: QtBot, tmp_path: Path, host: str) -> None:
    dialog, store = _dialog(qtbot, tmp_path)
    qtbot.keyClicks(_line(dialog, "server.host"), "")  # focus, as a user would
    _line(dialog, "server.host").setText(host)
    assert "not an IP address or host name" in dialog.errors()["server.host"]
    assert dialog.editor("server.host").error.isVisibleTo(dialog)
    assert not dialog.save_button.isEnabled()
    dialog.save_button.click()
    dialog._on_save()  # even a forced save (Enter in a field) writes nothing
    assert not store.path.exists()
    assert dialog.isVisible()


ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (a value a user may type; nothing binds it here)


@pytest.mark.parametrize("host", ["127.0.0.1", ALL_INTERFACES, "::1", "localhost", "my-box.local", "fe80::1"])
def test_good_hosts_are_accepted(qtbot: QtBot, tmp_path: Path, host: str) -> None:
    dialog, _store = _dialog(qtbot, tmp_path)
    _line(dialog, "server.host").setText(host)
    assert "server.host" not in dialog.errors()
    assert dialog.save_button.isEnabled()


def test_context_below_the_minimum_is_refused_but_zero_means_the_models_own(qtbot: QtBot,
                                                                             tmp_path: Path) -> None:
    dialog, store = _dialog(qtbot, tmp_path)
    context = dialog.editor("server.context_size").input
    assert isinstance(context, QSpinBox)
    context.setValue(5)
    assert "at least 256" in dialog.errors()["server.context_size"]
    assert not dialog.save_button.isEnabled()
    context.setValue(0)
    assert dialog.errors() == {}
    context.setValue(8192)
    dialog.save_button.click()
    assert load_settings(store.path).settings.server.context_size == 8192


def test_the_settings_file_uses_the_same_rules() -> None:
    with pytest.raises(ValueError, match="host"):
        ServerSettings(host="my host!")
    with pytest.raises(ValueError, match="at least 256"):
        ServerSettings(context_size=5)


def test_paths_must_exist_in_the_dialog(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, _store = _dialog(qtbot, tmp_path)
    server = _line(dialog, "runtime.llama_server_path")
    server.setText(str(tmp_path / "no-such-llama-server"))
    assert "is not an existing file" in dialog.errors()["runtime.llama_server_path"]
    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n")
    server.setText(str(binary))
    assert "runtime.llama_server_path" not in dialog.errors()
    folder = _line(dialog, "library.models_dir")
    folder.setText(str(binary))
    assert "is not an existing folder" in dialog.errors()["library.models_dir"]
    assert dialog.tabs.tabText(dialog.tabs.indexOf(dialog.tabs.widget(1))).endswith("⚠")


def test_a_settings_file_naming_a_missing_folder_still_loads(tmp_path: Path) -> None:
    # Existence is checked where a user types a path, not when a file is read: an unplugged disk must not
    # throw every other setting away.
    path = tmp_path / "settings.json"
    path.write_text('{"library": {"models_dir": "/no/such/disk/models"}}')
    loaded = load_settings(path)
    assert loaded.problem is None and str(loaded.settings.library.models_dir) == "/no/such/disk/models"


def test_default_quant_is_a_list_of_known_quants(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, store = _dialog(qtbot, tmp_path)
    combo = dialog.editor("downloads.default_quant").input
    assert isinstance(combo, QComboBox)
    assert [combo.itemData(i) for i in range(combo.count())] == list(QUANT_CHOICES)
    combo.setCurrentIndex(combo.findData("Q8_0"))
    dialog.save_button.click()
    assert load_settings(store.path).settings.downloads.default_quant == "Q8_0"


def test_choices_are_in_plain_words(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, _store = _dialog(qtbot, tmp_path)
    conflict = dialog.editor("server.port_conflict").input
    assert isinstance(conflict, QComboBox)
    assert [conflict.itemText(i) for i in range(conflict.count())] == ["Show an error", "Use another free port"]
    theme = dialog.editor("ui.theme").input
    assert isinstance(theme, QComboBox) and theme.itemText(0) == "Follow the system"
    texts = [label.text() for label in dialog.findChildren(type(dialog.banner))]
    assert "Add dropped files without asking" in texts
    assert not any("pick free" in text.lower() or "Don't ask" in text for text in texts)


def _wheel(widget: QSpinBox) -> None:
    center = QPointF(widget.rect().center())
    event = QWheelEvent(center, QPointF(widget.mapToGlobal(QPoint(5, 5))), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_page_not_an_unfocused_number(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, _store = _dialog(qtbot, tmp_path)
    dialog.resize(720, 300)  # short: the Server tab scrolls
    port = dialog.editor("server.port").input
    assert isinstance(port, QSpinBox)
    scroll = dialog.tabs.currentWidget()
    assert isinstance(scroll, QScrollArea)
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().maximum() > 0)
    dialog.buttons.setFocus()
    assert not port.hasFocus()
    _wheel(port)
    assert port.value() == 8080, "the wheel did not change a field the user is not editing"
    assert scroll.verticalScrollBar().value() > 0, "it scrolled the page instead"
    port.setFocus()
    qtbot.waitUntil(port.hasFocus)
    _wheel(port)
    assert port.value() == 8079, "a focused field still takes the wheel"


def test_keep_in_tray_is_off_and_explained_where_there_is_no_tray(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, store = _dialog(qtbot, tmp_path, tray=False)
    box = dialog.editor("ui.close_to_tray").input
    assert isinstance(box, QCheckBox)
    assert not box.isEnabled() and not box.isChecked()
    texts = [label.text() for label in dialog.findChildren(type(dialog.banner))]
    assert NO_TRAY_NOTE in texts
    dialog.save_button.click()
    # The stored choice is kept for a desktop that has a tray.
    assert load_settings(store.path).settings.ui.close_to_tray is True


def test_keep_in_tray_is_editable_with_a_tray(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, _store = _dialog(qtbot, tmp_path, tray=True)
    box = dialog.editor("ui.close_to_tray").input
    assert isinstance(box, QCheckBox) and box.isEnabled() and box.isChecked()
