"""The layout shared by the small confirm dialogs: a title, a muted note, one control, OK/Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget


def lay_out_confirm(dialog: QDialog, title: str, note: str, control: QWidget, ok_text: str) -> QPushButton:
    """Fill ``dialog`` with the title, note, ``control`` and OK/Cancel buttons; return the OK button.

    OK accepts the dialog and Cancel rejects it; the caller listens to ``accepted``.
    """
    title_label = QLabel(title)
    title_label.setObjectName("sectionTitle")
    title_label.setWordWrap(True)
    note_label = QLabel(note)
    note_label.setWordWrap(True)
    note_label.setProperty("muted", True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok_button.setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    dialog.setMinimumWidth(440)
    layout = QVBoxLayout(dialog)
    layout.setContentsMargins(20, 18, 20, 16)
    layout.setSpacing(10)
    layout.addWidget(title_label)
    layout.addWidget(note_label)
    layout.addWidget(control)
    layout.addWidget(buttons)
    return ok_button
