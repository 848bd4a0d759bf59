"""The theme: Fusion + palette + stylesheet, light/dark from the setting or the system."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from llama_wrangler.settings import Theme
from llama_wrangler.ui.icons import RESOURCES, tinted_icon
from llama_wrangler.ui.theme import DARK, LIGHT, ThemeManager, resolve, state_color


def test_explicit_themes_set_palette_and_stylesheet(qapp: QApplication) -> None:
    manager = ThemeManager(qapp, Theme.DARK)
    try:
        manager.apply()
        assert manager.colors is DARK
        assert qapp.palette().color(QPalette.ColorRole.Window) == QColor(DARK.window)
        assert "#sidebar" in qapp.styleSheet()
        manager.apply(Theme.LIGHT)
        assert qapp.palette().color(QPalette.ColorRole.Window) == QColor(LIGHT.window)
    finally:
        qapp.setStyleSheet("")


def test_system_theme_follows_the_color_scheme(qapp: QApplication) -> None:
    dark = qapp.styleHints().colorScheme() == Qt.ColorScheme.Dark
    assert resolve(Theme.SYSTEM, qapp) is (DARK if dark else LIGHT)
    assert resolve(Theme.DARK, qapp) is DARK and resolve(Theme.LIGHT, qapp) is LIGHT


def test_state_colors_and_icons_exist() -> None:
    assert state_color(LIGHT, "ready") == LIGHT.ok
    assert state_color(LIGHT, "loading") == LIGHT.busy
    assert state_color(LIGHT, "crashed") == LIGHT.bad
    for name in ("app-icon", "tray-icon", "state-ready", "state-busy", "state-crashed", "state-stopped"):
        assert (RESOURCES / f"{name}.svg").is_file()


def test_tinted_icons_render(qapp: QApplication) -> None:
    icon = tinted_icon("nav-library", "#ff0000")
    assert not icon.isNull()
    image = icon.pixmap(24, 24).toImage()
    colours = {image.pixelColor(x, y).name() for x in range(24) for y in range(24)
               if image.pixelColor(x, y).alpha() == 255}
    assert "#ff0000" in colours
