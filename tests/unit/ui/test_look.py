"""How controls look, checked on rendered pixels: disabled buttons look disabled in both themes (a
disabled "Remove…" is not red), and dialog buttons carry the app's own icons (no tick on a destructive one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import ImportMode, Theme
from llama_wrangler.ui.icons import tinted_icon
from llama_wrangler.ui.remove_dialog import RemoveDialog
from llama_wrangler.ui.theme import ThemeManager
from tests.support.gguf_files import write_gguf


@pytest.fixture
def theme(qapp: QApplication) -> Iterator[ThemeManager]:
    manager = ThemeManager(qapp, Theme.LIGHT)
    yield manager
    qapp.setStyleSheet("")


def _text_pixels(image: QImage, color: str, tolerance: int = 40) -> int:
    wanted = QColor(color)
    count = 0
    for y in range(0, image.height()):
        for x in range(0, image.width()):
            pixel = image.pixelColor(x, y)
            if (abs(pixel.red() - wanted.red()) + abs(pixel.green() - wanted.green())
                    + abs(pixel.blue() - wanted.blue())) < tolerance:
                count += 1
    return count


def _render(qtbot: QtBot, *, danger: bool, enabled: bool) -> QImage:
    holder = QWidget()
    qtbot.addWidget(holder)
    button = QPushButton("Remove… Stop Restart", holder)
    button.setProperty("danger", danger)
    button.setEnabled(enabled)
    QVBoxLayout(holder).addWidget(button)
    holder.show()
    qtbot.waitExposed(holder)
    return button.grab().toImage()


@pytest.mark.parametrize("name", [Theme.LIGHT, Theme.DARK])
def test_disabled_buttons_look_disabled(qtbot: QtBot, theme: ThemeManager, name: Theme) -> None:
    theme.apply(name)
    colors = theme.colors
    red_enabled = _text_pixels(_render(qtbot, danger=True, enabled=True), colors.bad)
    red_disabled = _text_pixels(_render(qtbot, danger=True, enabled=False), colors.bad)
    assert red_enabled > 20 and red_disabled == 0, "a disabled Remove… is not red"
    plain_enabled = _render(qtbot, danger=False, enabled=True)
    plain_disabled = _render(qtbot, danger=False, enabled=False)
    # Enabled text is drawn in the text colour; disabled text never is, and is fainter than the hints.
    assert _text_pixels(plain_enabled, colors.text, 60) > 20
    assert _text_pixels(plain_disabled, colors.text, 60) == 0
    assert _text_pixels(plain_disabled, colors.disabled, 30) > 20


def _same_icon(button: QPushButton, name: str) -> bool:
    """The same drawing (its shape: the alpha channel), whatever colour it was tinted."""
    def shape(image: QImage) -> QImage:
        return image.convertToFormat(QImage.Format.Format_Alpha8)

    made = tinted_icon(name, "#000000").pixmap(16, 16).toImage()
    return not button.icon().isNull() and shape(button.icon().pixmap(16, 16).toImage()) == shape(made)


def test_dialog_buttons_use_the_app_icons_and_remove_has_no_tick(qtbot: QtBot, theme: ThemeManager,
                                                                  app_paths: AppPaths) -> None:
    theme.apply(Theme.DARK)
    library = Library(app_paths, hash_in_background=False).load()
    [record] = library.import_files([write_gguf(app_paths.data_dir / "in" / "m.gguf", name="M")], ImportMode.LINK)
    dialog = RemoveDialog(record)
    qtbot.addWidget(dialog)
    buttons = dialog.findChildren(QPushButton)
    remove = dialog.ok_button
    cancel = next(b for b in buttons if b is not remove and "Cancel" in b.text())
    assert remove.property("danger") is True
    assert _same_icon(remove, "action-remove") and not _same_icon(remove, "action-check")
    assert _same_icon(cancel, "action-cancel")
    library.close()
