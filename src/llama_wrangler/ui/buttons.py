"""Dialog buttons in the app's own icon set.

Some desktops' styles put stock icons on dialog buttons (a tick on OK, whatever OK means).
:func:`dress_button_box` replaces them with ours, tinted like the button's text: a tick for the button
that goes ahead, a cross for Cancel / Close, and a bin for a destructive one — a destructive button never
carries a tick. (A Python ``QProxyStyle`` could switch the stock icons off app-wide, but a style object
the application owns must outlive every Python wrapper; dressing each box keeps ownership simple.)
"""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QPushButton

from llama_wrangler.ui.icons import tinted_icon

SB = QDialogButtonBox.StandardButton
GO_AHEAD = (SB.Ok, SB.Save, SB.Open, SB.Yes, SB.Apply)
BACK_OUT = (SB.Cancel, SB.Close, SB.No, SB.Abort)


def dress_button(button: QPushButton, icon_name: str) -> None:
    primary = bool(button.property("primary"))
    role = QPalette.ColorRole.HighlightedText if primary else QPalette.ColorRole.ButtonText
    button.setIcon(tinted_icon(icon_name, button.palette().color(role)))


def dress_button_box(box: QDialogButtonBox, *, destructive: QPushButton | None = None) -> None:
    """Our icons on ``box``'s standard buttons; ``destructive`` (e.g. "Remove") gets the bin."""
    for standard in GO_AHEAD:
        button = box.button(standard)
        if button is not None:
            dress_button(button, "action-remove" if button is destructive else "action-check")
    for standard in BACK_OUT:
        button = box.button(standard)
        if button is not None:
            dress_button(button, "action-cancel")


def dress_message_box(box: QMessageBox) -> None:
    """Our icons on a message box's standard buttons."""
    for button in box.buttons():
        if isinstance(button, QPushButton):
            role = box.buttonRole(button)
            go = role in (QMessageBox.ButtonRole.AcceptRole, QMessageBox.ButtonRole.YesRole)
            dress_button(button, "action-check" if go else "action-cancel")
