""""How should dropped files be added?" — copy, move, hard link or link in place, with "remember"."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.settings import ImportMode
from llama_wrangler.ui.buttons import dress_button_box

MODE_TEXT = {
    ImportMode.COPY: ("Copy into the library", "Safest: the original stays untouched. Needs the disk space "
                      "twice."),
    ImportMode.MOVE: ("Move into the library", "The file leaves its folder and lives in the app's models "
                      "folder."),
    ImportMode.HARDLINK: ("Hard link", "No extra space; only works when the file is on the same disk "
                          "as the library."),
    ImportMode.LINK: ("Use in place", "Nothing is copied; the model disappears from the library if you "
                      "move or delete the file."),
}


class ImportModeDialog(QDialog):
    """Non-blocking: show it with ``open()`` and listen to :attr:`chosen`.

    Signals:
        chosen(str mode, bool remember)
    """

    chosen = Signal(str, int)  # mode, remember (int: PySide6 6.12 bool-argument refcount bug)

    def __init__(self, default: ImportMode, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importModeDialog")
        self.setWindowTitle("Add models")
        self.setMinimumWidth(460)
        title = QLabel("How should these models be added?")
        title.setObjectName("sectionTitle")
        self.group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(8)
        layout.addWidget(title)
        self.buttons: dict[ImportMode, QRadioButton] = {}
        for mode, (label, explanation) in MODE_TEXT.items():
            button = QRadioButton(label)
            button.setChecked(mode == default)
            note = QLabel(explanation)
            note.setProperty("muted", True)
            note.setWordWrap(True)
            note.setContentsMargins(24, 0, 0, 6)
            self.group.addButton(button)
            self.buttons[mode] = button
            layout.addWidget(button)
            layout.addWidget(note)
        self.remember = QCheckBox("Remember my choice (change it later in Settings)")
        self.remember.setChecked(True)
        layout.addWidget(self.remember)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        add = box.button(QDialogButtonBox.StandardButton.Ok)
        add.setText("&Add")
        add.setProperty("primary", True)
        dress_button_box(box)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self.accepted.connect(self._on_accepted)

    def selected_mode(self) -> ImportMode:
        for mode, button in self.buttons.items():
            if button.isChecked():
                return mode
        return ImportMode.COPY

    @Slot()
    def _on_accepted(self) -> None:
        self.chosen.emit(self.selected_mode().value, int(self.remember.isChecked()))


def dialog_chooser(parent: QWidget, default: Callable[[], ImportMode]) -> Callable[
        [Callable[[ImportMode, bool], None]], None]:
    """A :data:`~llama_wrangler.ui.drop_import.ModeChooser` that asks with :class:`ImportModeDialog`."""

    def ask(callback: Callable[[ImportMode, bool], None]) -> None:
        dialog = ImportModeDialog(default(), parent)
        dialog.chosen.connect(lambda mode, remember: callback(ImportMode(mode), bool(remember)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    return ask
