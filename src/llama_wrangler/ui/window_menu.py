"""The window's menu bar and its keyboard shortcuts, and the dialog that lists every shortcut.

The menus are where a user looks for what the app can do and which keys do it: each command is a
:class:`QAction` whose shortcut the menu shows beside it, and "Keyboard shortcuts" (F1) lists them all,
read from the actions themselves so the list cannot drift from the keys that work.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.ui.buttons import dress_button_box


def make_action(parent: QObject, text: str, *shortcuts: QKeySequence | QKeySequence.StandardKey | str,
                context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut) -> QAction:
    """An action with ``text`` (``&`` marks its mnemonic) and its shortcuts, the first one shown."""
    action = QAction(text, parent)
    keys: list[QKeySequence] = []
    for shortcut in shortcuts:
        if isinstance(shortcut, QKeySequence.StandardKey):
            keys.extend(QKeySequence.keyBindings(shortcut))
        else:
            keys.append(QKeySequence(shortcut))
    action.setShortcuts(keys)
    action.setShortcutContext(context)
    return action


class WindowMenus(QObject):
    """The menu bar of ``window``: File, the pages' own menus (added by :meth:`add_menu`), Help.

    The File actions are public so the window can connect them (``add_model``, ``import_files``,
    ``settings``, ``quit``); ``shortcuts`` and ``messages`` are in Help.
    """

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        bar = window.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.add_model = make_action(window, "&Add model…", "Ctrl+N")
        self.import_files = make_action(window, "&Import model files…", "Ctrl+O")
        self.settings = make_action(window, "&Settings…", "Ctrl+,")
        self.quit = make_action(window, "&Quit", "Ctrl+Q")
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        for action in (self.add_model, self.import_files, None, self.settings, None, self.quit):
            if action is None:
                self.file_menu.addSeparator()
            else:
                self.file_menu.addAction(action)
        self.go_menu = bar.addMenu("&Go")
        self._help_menu = bar.addMenu("&Help")
        self.shortcuts = make_action(window, "&Keyboard shortcuts", "F1")
        self.messages = make_action(window, "&Messages", "Ctrl+Shift+M")
        self._help_menu.addAction(self.shortcuts)
        self._help_menu.addAction(self.messages)

    def add_go_action(self, text: str, index: int) -> QAction:
        """"Go → <page>" with Ctrl+<index> (pages 1–9)."""
        keys = (f"Ctrl+{index}",) if 1 <= index <= 9 else ()
        action = make_action(self._window, text, *keys)
        self.go_menu.addAction(action)
        return action

    def add_menu(self, title: str, actions: Iterable[QAction | None]) -> QMenu:
        """A page's own menu (before Go and Help); ``None`` is a separator."""
        menu = QMenu(title, self._window)
        for action in actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        self._window.menuBar().insertMenu(self.go_menu.menuAction(), menu)
        return menu

    def all_actions(self) -> list[tuple[str, QAction]]:
        """(menu title, action) for every action with a shortcut, in menu order."""
        found: list[tuple[str, QAction]] = []
        for menu_action in self._window.menuBar().actions():
            menu = menu_action.menu()
            if not isinstance(menu, QMenu):
                continue
            for action in menu.actions():
                if not action.isSeparator() and action.shortcuts():
                    found.append((menu.title().replace("&", ""), action))
        return found


def shortcut_text(action: QAction) -> str:
    """The keys to list: the action's own, without a standard key's extra bindings that only some keyboards
    have (Find, Refresh keys) — but with Enter beside Return."""
    keys = [action.shortcut(), *(k for k in action.shortcuts()[1:] if k.toString() == "Enter")]
    return ", ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in keys)


class ShortcutsDialog(QDialog):
    """Every shortcut of the window, grouped by menu."""

    def __init__(self, entries: list[tuple[str, QAction]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 580)
        title = QLabel("Keyboard shortcuts")
        title.setObjectName("sectionTitle")
        note = QLabel("In the library table, Enter serves the selected model and Delete asks to remove "
                      "it. Tab moves on to the next control; the arrow keys move between models.")
        note.setWordWrap(True)
        note.setProperty("muted", True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Command", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.tree.setColumnWidth(0, 300)
        group = ""
        for menu, action in entries:
            if menu != group:
                group = menu
                heading = QTreeWidgetItem([menu, ""])
                font = heading.font(0)
                font.setBold(True)
                heading.setFont(0, font)
                heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.tree.addTopLevelItem(heading)
            self.tree.addTopLevelItem(QTreeWidgetItem(["    " + action.text().replace("&", "").rstrip("…"),
                                                       shortcut_text(action)]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        dress_button_box(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)

    def rows(self) -> list[tuple[str, str]]:
        """(command, keys) for each listed command (tests)."""
        out = []
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item is not None and item.text(1):
                out.append((item.text(0).strip(), item.text(1)))
        return out
