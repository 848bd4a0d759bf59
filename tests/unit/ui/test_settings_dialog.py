"""The settings dialog: generated from the pydantic model, inline validation, saved with save_settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.settings import Settings, Theme, load_settings
from llama_wrangler.ui.settings_dialog import SettingsDialog


def _dialog(qtbot: QtBot, tmp_path: Path) -> tuple[SettingsDialog, SettingsStore]:
    store = SettingsStore(Settings(), tmp_path / "settings.json")
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog, store


def test_every_setting_gets_a_widget_of_its_type(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, _store = _dialog(qtbot, tmp_path)
    expected = {f"{section}.{name}" for section, info in Settings.model_fields.items()
                if section != "schema_version"
                for name in info.annotation.model_fields}  # type: ignore[union-attr]
    assert {f"{s}.{n}" for s, n in dialog.editors} == expected
    assert isinstance(dialog.editor("server.port").input, QSpinBox)
    assert isinstance(dialog.editor("ui.close_to_tray").input, QCheckBox)
    assert isinstance(dialog.editor("ui.theme").input, QComboBox)
    assert isinstance(dialog.editor("server.extra_args").input, QLineEdit)
    assert dialog.editor("downloads.hf_token").input.echoMode() == QLineEdit.EchoMode.Password  # type: ignore[attr-defined]
    port = dialog.editor("server.port").input
    assert isinstance(port, QSpinBox) and (port.minimum(), port.maximum()) == (1, 65535)


def test_invalid_values_show_pydantic_messages_next_to_the_field(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, store = _dialog(qtbot, tmp_path)
    assert dialog.save_button.isEnabled()
    extra = dialog.editor("server.extra_args").input
    assert isinstance(extra, QLineEdit)
    extra.setText("--port 9000")
    endpoint = dialog.editor("downloads.hf_endpoint").input
    assert isinstance(endpoint, QLineEdit)
    endpoint.setText("ftp://hub.example")
    errors = dialog.errors()
    assert set(errors) == {"server.extra_args", "downloads.hf_endpoint"}
    assert "--port is set by Llama Wrangler itself" in errors["server.extra_args"]
    assert "must start with http:// or https://" in errors["downloads.hf_endpoint"]
    assert dialog.editor("server.extra_args").error.isVisibleTo(dialog)
    assert dialog.editor("server.extra_args").error.text() == errors["server.extra_args"]
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())][:3] == [
        "Server ⚠", "Library", "Downloads ⚠"]
    assert not dialog.save_button.isEnabled()
    dialog.save_button.click()
    assert not store.path.exists(), "nothing is saved while the form is invalid"

    extra.setText("--temp 0.5")
    endpoint.setText("https://hub.example/")
    assert dialog.errors() == {}
    assert dialog.save_button.isEnabled()


def test_save_writes_the_settings_file_and_publishes(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, store = _dialog(qtbot, tmp_path)
    port = dialog.editor("server.port").input
    theme = dialog.editor("ui.theme").input
    assert isinstance(port, QSpinBox) and isinstance(theme, QComboBox)
    port.setValue(9123)
    theme.setCurrentIndex(theme.findData(Theme.DARK.value))
    with qtbot.waitSignal(dialog.saved) as blocker:
        dialog.save_button.click()
    saved = blocker.args[0]
    assert isinstance(saved, Settings)
    assert saved.server.port == 9123 and saved.ui.theme == Theme.DARK
    on_disk = load_settings(store.path)
    assert on_disk.problem is None
    assert on_disk.settings == saved == store.settings
    assert not dialog.isVisible()


def test_empty_optional_path_means_default(qtbot: QtBot, tmp_path: Path) -> None:
    dialog, _store = _dialog(qtbot, tmp_path)
    models_dir = dialog.editor("library.models_dir").input
    assert isinstance(models_dir, QLineEdit)
    (tmp_path / "elsewhere").mkdir()
    models_dir.setText(str(tmp_path / "elsewhere"))
    assert dialog.validate() is not None
    assert dialog.validate().library.models_dir == tmp_path / "elsewhere"  # type: ignore[union-attr]
    models_dir.setText("  ")
    assert dialog.validate().library.models_dir is None  # type: ignore[union-attr]


def test_the_downloads_tab_says_where_hub_values_come_from(qtbot: QtBot, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.test")
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    dialog, _store = _dialog(qtbot, tmp_path)
    note = dialog.findChild(QLabel, "settingsInForce")
    assert note is not None
    assert "Hugging Face address: http://mirror.test (from HF_ENDPOINT)" in note.text()
    assert f"Ollama models: {tmp_path / 'ollama'} (from OLLAMA_MODELS)" in note.text()
