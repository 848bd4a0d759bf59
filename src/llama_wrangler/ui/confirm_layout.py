"""The layout shared by the small confirm dialogs: a title, a muted note, one control, OK/Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from llama_wrangler.ui.buttons import dress_button_box


def lay_out_confirm(dialog: QDialog, title: str, note: str, control: QWidget, ok_text: str, *,
                    destructive: bool = False) -> QPushButton:
    """Fill ``dialog`` with the title, note, ``control`` and OK/Cancel buttons; return the OK button.
    A ``destructive`` OK button is drawn as such (red, a bin icon, never a tick).

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
    if destructive:
        ok_button.setProperty("danger", True)
    dress_button_box(buttons, destructive=ok_button if destructive else None)
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
