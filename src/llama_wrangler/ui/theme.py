"""The app's look: Fusion style, a light or dark palette, and a small stylesheet.

Follows the system colour scheme (``QStyleHints.colorScheme()``, Qt ≥ 6.5) when the ``ui.theme`` setting
is ``system``, and re-applies itself when the system switches.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from llama_wrangler.settings import Theme
from llama_wrangler.ui.icons import resource_path
from llama_wrangler.ui.state_look import look


@dataclass(frozen=True)
class Colors:
    dark: bool
    window: str
    base: str
    alt_base: str
    sidebar: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    selection: str
    ok: str
    busy: str
    bad: str
    idle: str
    disabled: str  # text on a disabled control: clearly fainter than ``muted`` hints in both themes


LIGHT = Colors(dark=False, window="#f6f6f9", base="#ffffff", alt_base="#f9f9fb", sidebar="#eeeef3",
               text="#1c1c24", muted="#6b6d7a", border="#dcdce4", accent="#6a55e8", accent_text="#ffffff",
               selection="#e4defc", ok="#22a55b", busy="#d99a00", bad="#e5484d", idle="#8b8d98",
               disabled="#b4b6c0")
DARK = Colors(dark=True, window="#1b1b22", base="#22222b", alt_base="#262630", sidebar="#15151b",
              text="#ececf1", muted="#9a9cab", border="#33333f", accent="#8b7bff", accent_text="#ffffff",
              selection="#3a3366", ok="#3dd68c", busy="#f5c542", bad="#ff6369", idle="#7c7f8c",
              disabled="#585a68")


def state_color(colors: Colors, state: str) -> str:
    """The colour of a server state's tone (see :mod:`llama_wrangler.ui.state_look`)."""
    return str(getattr(colors, look(state).tone.value))


def system_prefers_dark(app: QApplication) -> bool:
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve(theme: Theme, app: QApplication) -> Colors:
    if theme == Theme.DARK:
        return DARK
    if theme == Theme.LIGHT:
        return LIGHT
    return DARK if system_prefers_dark(app) else LIGHT


def palette(colors: Colors) -> QPalette:
    pal = QPalette()
    role = QPalette.ColorRole
    pal.setColor(role.Window, QColor(colors.window))
    pal.setColor(role.WindowText, QColor(colors.text))
    pal.setColor(role.Base, QColor(colors.base))
    pal.setColor(role.AlternateBase, QColor(colors.alt_base))
    pal.setColor(role.Text, QColor(colors.text))
    pal.setColor(role.PlaceholderText, QColor(colors.muted))
    pal.setColor(role.Button, QColor(colors.base))
    pal.setColor(role.ButtonText, QColor(colors.text))
    pal.setColor(role.Highlight, QColor(colors.accent))
    pal.setColor(role.HighlightedText, QColor(colors.accent_text))
    pal.setColor(role.ToolTipBase, QColor(colors.base))
    pal.setColor(role.ToolTipText, QColor(colors.text))
    pal.setColor(role.Link, QColor(colors.accent))
    pal.setColor(role.Mid, QColor(colors.border))
    pal.setColor(role.Midlight, QColor(colors.alt_base))
    for group_role in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, group_role, QColor(colors.disabled))
    pal.setColor(QPalette.ColorGroup.Disabled, role.Button, QColor(colors.window))
    return pal


def stylesheet(c: Colors) -> str:
    chevron = resource_path("chevron-down.svg").as_posix()
    tick = resource_path("indicator-check.svg").as_posix()
    return f"""
QWidget {{ font-size: 10pt; }}
#sidebar {{ background: {c.sidebar}; border: none; border-right: 1px solid {c.border}; }}
#sidebar QListWidget {{ background: transparent; border: none; outline: 0; }}
#sidebar QListWidget::item {{ padding: 9px 12px; margin: 2px 8px; border-radius: 8px; color: {c.text}; }}
#sidebar QListWidget::item:selected {{ background: {c.selection}; color: {c.text}; }}
#sidebar QListWidget::item:hover:!selected {{ background: {c.border}; }}
#brand {{ font-size: 12pt; font-weight: 600; color: {c.text}; }}
#pageTitle, #dialogTitle {{ font-size: 15pt; font-weight: 600; }}
#sectionTitle {{ font-size: 11pt; font-weight: 600; }}
#muted, QLabel[muted="true"] {{ color: {c.muted}; }}
#card {{ background: {c.base}; border: 1px solid {c.border}; border-radius: 10px; }}
#banner {{ background: {c.selection}; border: 1px solid {c.accent}; border-radius: 10px; }}
#banner QLabel {{ background: transparent; }}
QTableView {{ background: {c.base}; alternate-background-color: {c.alt_base};
    border: 1px solid {c.border}; border-radius: 8px; gridline-color: transparent;
    selection-background-color: {c.selection}; selection-color: {c.text}; }}
QTableView::item {{ padding: 4px 8px; border: none; }}
QTreeView {{ background: {c.base}; alternate-background-color: {c.alt_base}; border: 1px solid {c.border};
    border-radius: 8px; selection-background-color: {c.selection}; selection-color: {c.text}; }}
QTreeView::item {{ padding: 6px 4px; border: none; }}
QTreeView::item:selected {{ background: {c.selection}; color: {c.text}; }}
QHeaderView::section {{ background: {c.base}; color: {c.muted}; border: none;
    border-bottom: 1px solid {c.border}; padding: 6px 8px; font-weight: 600; }}
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox, QPlainTextEdit {{ border: 1px solid {c.border};
    border-radius: 6px; padding: 5px 8px; background: {c.base}; }}
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus, QPlainTextEdit:focus {{
    border: 1px solid {c.accent}; }}
QLineEdit[invalid="true"], QSpinBox[invalid="true"], QDoubleSpinBox[invalid="true"],
QComboBox[invalid="true"] {{ border: 1px solid {c.bad}; }}
QLabel[fieldError="true"] {{ color: {c.bad}; font-size: 9pt; }}
QPushButton {{ border: 1px solid {c.border}; border-radius: 6px; padding: 6px 14px; background: {c.base}; }}
QPushButton:hover {{ border-color: {c.accent}; }}
QPushButton:disabled {{ color: {c.disabled}; background: {c.window}; border: 1px dashed {c.border}; }}
QPushButton[primary="true"] {{ background: {c.accent}; color: {c.accent_text}; border-color: {c.accent}; }}
QPushButton[primary="true"]:disabled {{ background: {c.border}; border: 1px solid {c.border};
    color: {c.disabled}; }}
QPushButton[danger="true"] {{ color: {c.bad}; }}
QPushButton[danger="true"]:disabled {{ color: {c.disabled}; }}
QPushButton#messagesButton {{ border: none; background: transparent; color: {c.muted}; padding: 2px 10px; }}
QPushButton#messagesButton:hover {{ color: {c.text}; }}
QPushButton#messagesButton[hasErrors="true"] {{ color: {c.bad}; }}
QCheckBox:disabled {{ color: {c.disabled}; }}
QCheckBox::indicator {{ width: 15px; height: 15px; border: 1px solid {c.idle}; border-radius: 4px;
    background: {c.base}; }}
QCheckBox::indicator:checked {{ background: {c.accent}; border-color: {c.accent}; image: url("{tick}"); }}
QCheckBox::indicator:disabled {{ background: {c.window}; border: 1px dashed {c.disabled}; }}
QCheckBox::indicator:checked:disabled {{ background: {c.disabled}; border-color: {c.disabled}; }}
#jobBadge {{ border-radius: 9px; padding: 1px 9px; font-size: 9pt; font-weight: 600; }}
#jobBadge[tone="ok"] {{ color: {c.ok}; border: 1px solid {c.ok}; }}
#jobBadge[tone="busy"] {{ color: {c.accent}; border: 1px solid {c.accent}; }}
#jobBadge[tone="idle"] {{ color: {c.muted}; border: 1px solid {c.border}; }}
#jobBadge[tone="bad"] {{ color: {c.accent_text}; background: {c.bad}; border: 1px solid {c.bad}; }}
#jobStatus {{ color: {c.muted}; }}
#jobStatus[tone="bad"] {{ color: {c.bad}; }}
QProgressBar[tone="bad"]::chunk {{ background: {c.bad}; }}
QProgressBar[tone="ok"]::chunk {{ background: {c.ok}; }}
QPushButton[compact="true"] {{ padding: 6px 8px; }}
QProgressBar {{ border: none; border-radius: 4px; background: {c.border}; height: 8px; max-height: 8px;
    text-align: center; color: transparent; }}
QProgressBar::chunk {{ background: {c.accent}; border-radius: 4px; }}
QStatusBar {{ background: {c.sidebar}; border-top: 1px solid {c.border}; color: {c.muted}; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QPlainTextEdit#serverLog, QPlainTextEdit#crashDetails {{ font-family: monospace; font-size: 9pt; }}
#dropOverlay {{ background: rgba(106, 85, 232, 40); border: 2px dashed {c.accent}; border-radius: 14px; }}
#dropOverlay QLabel {{ font-size: 14pt; font-weight: 600; color: {c.text}; background: transparent; }}
QScrollArea {{ border: none; background: transparent; }}
QScrollArea#transparentScroll > QWidget > QWidget {{ background: transparent; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 2px; }}
QScrollBar::handle:vertical {{ background: {c.border}; border-radius: 3px; min-height: 28px; }}
QScrollBar::handle:horizontal {{ background: {c.border}; border-radius: 3px; min-width: 28px; }}
QScrollBar::handle:hover {{ background: {c.muted}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; border: none; background: none; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QSpinBox::up-button, QSpinBox::down-button, QDoubleSpinBox::up-button, QDoubleSpinBox::down-button {{
    width: 0; border: none; }}
QComboBox::drop-down {{ border: none; width: 24px; }}
QComboBox::down-arrow {{ image: url("{chevron}"); width: 12px; height: 12px; }}
QComboBox QAbstractItemView {{ border: 1px solid {c.border}; background: {c.base};
    selection-background-color: {c.selection}; selection-color: {c.text}; }}
QTabWidget::pane {{ border: 1px solid {c.border}; border-radius: 8px; background: {c.base}; top: -1px; }}
QTabBar::tab {{ padding: 7px 16px; border: none; color: {c.muted}; }}
QTabBar::tab:selected {{ color: {c.text}; border-bottom: 2px solid {c.accent}; }}
"""


class ThemeManager(QObject):
    """Applies a theme to the app and keeps following the system when the setting is ``system``.

    Signals:
        changed(): the colours changed; widgets that paint with :attr:`colors` should refresh.
    """

    changed = Signal()

    def __init__(self, app: QApplication, theme: Theme, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._app = app
        self._theme = theme
        self.colors = LIGHT
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme_changed)

    def apply(self, theme: Theme | None = None) -> None:
        if theme is not None:
            self._theme = theme
        self.colors = resolve(self._theme, self._app)
        self._app.setStyle("Fusion")
        self._app.setPalette(palette(self.colors))
        self._app.setStyleSheet(stylesheet(self.colors))
        self.changed.emit()

    @Slot(Qt.ColorScheme)
    def _on_system_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._theme == Theme.SYSTEM:
            self.apply()
