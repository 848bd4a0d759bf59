"""Drag-and-drop import: real QDropEvents with file URLs sent to the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.settings import ImportMode, load_settings
from llama_wrangler.ui.import_mode_dialog import ImportModeDialog
from llama_wrangler.work import JobKind
from tests.support.gguf_files import write_gguf
from tests.support.gui import drop_files


def _confirm_mode(wrangler: WranglerApp, mode: ImportMode) -> None:
    current = wrangler.settings.settings
    library = current.library.model_copy(update={"import_mode": mode, "import_mode_confirmed": True})
    wrangler.settings.update(current.model_copy(update={"library": library}))


def test_dropping_a_gguf_imports_it_with_the_settings_mode(wrangler: WranglerApp, qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    _confirm_mode(wrangler, ImportMode.COPY)
    source = write_gguf(tmp_path / "dropped-Q4_K_M.gguf", name="Dropped")
    with qtbot.waitSignal(wrangler.actions.imported, timeout=10_000) as blocker:
        drop_files(wrangler.window, [source])
    records = blocker.args[0]
    assert [r.path.name for r in records] == ["dropped-Q4_K_M.gguf"]
    assert source.exists(), "copy mode must leave the original in place"
    assert records[0].path.parent == wrangler.library.models_dir
    # The library page shows it.
    qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == 1)
    assert wrangler.library_view.model.record(0).id == records[0].id


def test_drop_on_a_child_widget_imports_too(wrangler: WranglerApp, qtbot: QtBot, tmp_path: Path) -> None:
    _confirm_mode(wrangler, ImportMode.LINK)
    folder = tmp_path / "models"
    write_gguf(folder / "a.gguf", name="A")
    write_gguf(folder / "sub" / "b.gguf", name="B")
    with qtbot.waitSignal(wrangler.actions.imported, timeout=10_000) as blocker:
        drop_files(wrangler.library_view.filter, [folder])  # a text field: would take text drops itself
    assert sorted(r.path.name for r in blocker.args[0]) == ["a.gguf", "b.gguf"]
    assert all(not r.owned for r in blocker.args[0]), "link mode uses the files in place"
    assert wrangler.library_view.filter.text() == "", "the URL must not be pasted into the field"


def test_first_drop_asks_for_the_mode_and_remembers_it(wrangler: WranglerApp, qtbot: QtBot,
                                                        tmp_path: Path) -> None:
    assert not wrangler.settings.settings.library.import_mode_confirmed
    source = write_gguf(tmp_path / "first.gguf", name="First")
    drop_files(wrangler.window, [source])
    dialog = wrangler.window.findChild(ImportModeDialog)
    assert dialog is not None and dialog.isVisible()
    assert wrangler.library.models() == [], "nothing happens before the user answers"
    dialog.buttons[ImportMode.MOVE].setChecked(True)
    dialog.remember.setChecked(True)
    with qtbot.waitSignal(wrangler.actions.imported, timeout=10_000):
        dialog.accept()
    assert not source.exists(), "move mode moves the file"
    saved = load_settings(wrangler.paths.settings_file).settings
    assert saved.library.import_mode == ImportMode.MOVE
    assert saved.library.import_mode_confirmed


def test_cancelling_the_mode_question_changes_nothing(wrangler: WranglerApp, qtbot: QtBot,
                                                       tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "kept.gguf", name="Kept")
    drop_files(wrangler.window, [source])
    dialog = wrangler.window.findChild(ImportModeDialog)
    assert dialog is not None
    dialog.reject()
    assert wrangler.library.models() == []
    assert wrangler.jobs.jobs("import") == []
    assert not wrangler.settings.settings.library.import_mode_confirmed


def test_dropping_other_files_explains_and_changes_nothing(wrangler: WranglerApp, qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    _confirm_mode(wrangler, ImportMode.COPY)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with qtbot.waitSignal(wrangler.messenger.shown) as blocker:
        drop_files(wrangler.window, [notes, QUrl("https://example.com/model.gguf")])
    level, text, _details = blocker.args
    assert level == "warning"
    assert ".gguf" in text and "Nothing was changed" in text
    assert [job for job in wrangler.jobs.jobs() if job.kind != JobKind.INSPECT] == []  # no import
    assert wrangler.library.models() == []
    assert notes.read_text() == "hello"
