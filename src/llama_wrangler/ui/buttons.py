"""Dialog buttons in the app's own icon set.

The style's stock icons are switched off (:class:`~llama_wrangler.ui.theme.AppStyle`), and
:func:`dress_button_box` gives each button of a box one of ours, tinted like its text: a tick for the
button that goes ahead, a cross for Cancel / Close, and a bin for a destructive one — a destructive
button never carries a tick.
"""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDialogButtonBox, QPushButton

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
