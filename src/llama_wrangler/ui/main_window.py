"""The main window: a sidebar of pages (Library, Downloads, Server; browser tabs later), a status bar that
always shows the server state, and the drop overlay.

The window owns no services. Pages are added by ``app.py`` with :meth:`MainWindow.add_page`, which is also
where the Hugging Face / Ollama browser tabs will plug in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from PySide6.QtCore import QByteArray, QSize, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler import APP_NAME
from llama_wrangler.services.messages import Level, Messenger
from llama_wrangler.ui.buttons import dress_message_box
from llama_wrangler.ui.icons import icon, tinted_icon
from llama_wrangler.ui.notifications import MessageHistory
from llama_wrangler.ui.status_indicator import ServerStatusLabel
from llama_wrangler.ui.theme import ThemeManager
from llama_wrangler.ui.window_menu import ShortcutsDialog, WindowMenus

DEFAULT_SIZE = QSize(1280, 800)


@runtime_checkable
class RemembersLayout(Protocol):
    """A page whose layout (splitters, column widths) is kept between sessions."""

    def save_layout(self) -> dict[str, QByteArray]: ...

    def restore_layout(self, state: dict[str, QByteArray]) -> None: ...


MINIMUM_SIZE = QSize(1024, 640)
SIDEBAR_WIDTH = 212


class DropOverlay(QFrame):
    """Covers the window while files are dragged over it, saying what a drop will do."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("dropOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.label = QLabel("Drop .gguf files or folders to add them to your library")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        self.hide()

    def cover(self, text: str) -> None:
        self.label.setText(text)
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect().adjusted(12, 12, -12, -12))
        self.raise_()
        self.show()


class MainWindow(QMainWindow):
    """Signals:
        add_model_requested(): the user wants the Add-model dialog (Ctrl+N).
        import_requested(): the user wants to pick model files to import (Ctrl+O).
        settings_requested(): the user wants the settings dialog (Ctrl+,).
        quit_requested(): end the app (Ctrl+Q, or closing the window with no tray to stay in).
    """

    add_model_requested = Signal()
    import_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()

    def __init__(self, messenger: Messenger, theme: ThemeManager, *,
                 keep_in_tray: Callable[[], bool] = lambda: False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(icon("app-icon"))
        self.resize(DEFAULT_SIZE)
        self.setMinimumSize(MINIMUM_SIZE)
        self._theme = theme
        self._keep_in_tray = keep_in_tray
        self._pages: dict[str, QWidget] = {}
        self._nav_icons: dict[str, str] = {}
        self._error_box: QMessageBox | None = None

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setSpacing(0)
        self.nav.currentRowChanged.connect(self._on_nav_row_changed)
        self.stack = QStackedWidget()

        brand_icon = QLabel()
        brand_icon.setPixmap(icon("app-icon").pixmap(28, 28))
        brand = QLabel(APP_NAME)
        brand.setObjectName("brand")
        brand_row = QHBoxLayout()
        brand_row.setContentsMargins(14, 18, 10, 14)
        brand_row.setSpacing(8)
        brand_row.addWidget(brand_icon)
        brand_row.addWidget(brand, 1)

        self.add_button = QPushButton("&Add model")
        self.add_button.setProperty("primary", True)
        self.add_button.clicked.connect(self.add_model_requested)
        self.settings_button = QPushButton("Se&ttings")
        self.settings_button.clicked.connect(self.settings_requested)
        bottom = QVBoxLayout()
        bottom.setContentsMargins(14, 8, 14, 16)
        bottom.setSpacing(8)
        bottom.addWidget(self.add_button)
        bottom.addWidget(self.settings_button)

        sidebar = QFrame()
        sidebar.setObjectName("sidebar")
        sidebar.setFixedWidth(SIDEBAR_WIDTH)
        side_layout = QVBoxLayout(sidebar)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(0)
        side_layout.addLayout(brand_row)
        side_layout.addWidget(self.nav, 1)
        side_layout.addLayout(bottom)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(sidebar)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.server_status = ServerStatusLabel(theme)
        self.messages = MessageHistory()
        self.statusBar().addPermanentWidget(self.messages)
        self.statusBar().addPermanentWidget(self.server_status)
        self.statusBar().setSizeGripEnabled(False)
        self.statusBar().messageChanged.connect(self._on_status_message_changed)
        self.drop_overlay = DropOverlay(central)

        self.menus = WindowMenus(self)
        self.menus.add_model.triggered.connect(self.add_model_requested)
        self.menus.import_files.triggered.connect(self.import_requested)
        self.menus.settings.triggered.connect(self.settings_requested)
        self.menus.quit.triggered.connect(self.quit_requested)
        self.menus.shortcuts.triggered.connect(self.show_shortcuts)
        self.menus.messages.triggered.connect(self.messages.open_list)

        messenger.shown.connect(self._on_message)
        theme.changed.connect(self._on_theme_changed)
        self._on_theme_changed()

    # -- pages -----------------------------------------------------------------------------------------
    def add_page(self, key: str, title: str, icon_name: str, widget: QWidget) -> None:
        """Add a page to the sidebar (the browser tabs of a later release plug in here too)."""
        self._pages[key] = widget
        self._nav_icons[key] = icon_name
        item = QListWidgetItem(title)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setSizeHint(QSize(0, 40))
        self.nav.addItem(item)
        self.stack.addWidget(widget)
        self.menus.add_go_action(title, self.nav.count()).triggered.connect(lambda: self.show_page(key))
        self._tint_nav_icons()
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)

    def page(self, key: str) -> QWidget:
        return self._pages[key]

    def show_page(self, key: str) -> None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(Qt.ItemDataRole.UserRole) == key:
                self.nav.setCurrentRow(row)
                return
        raise KeyError(key)

    def current_page_key(self) -> str:
        item = self.nav.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    # -- remembered layout -----------------------------------------------------------------------------
    def save_layout(self) -> dict[str, QByteArray]:
        """The window's geometry and each page's own layout (splitters, column widths), by key."""
        # The size on its own as well: restoreGeometry() shrinks a window to the screen it thinks it is
        # on, which is wrong on a screen that is not there yet (or an offscreen one).
        maximized = self.isMaximized()
        size = self.normalGeometry().size() if maximized else self.size()
        state = {"window/geometry": self.saveGeometry(),
                 "window/size": QByteArray(f"{size.width()}x{size.height()}".encode())}
        for key, page in self._pages.items():
            if isinstance(page, RemembersLayout):
                state.update({f"{key}/{name}": blob for name, blob in page.save_layout().items()})
        return state

    def restore_layout(self, state: dict[str, QByteArray]) -> None:
        geometry = state.get("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        width, _x, height = bytes(state.get("window/size", QByteArray()).data()).decode(
            "ascii", "replace").partition("x")
        if width.isdigit() and height.isdigit() and not self.isMaximized():
            self.resize(max(int(width), MINIMUM_SIZE.width()), max(int(height), MINIMUM_SIZE.height()))
        for key, page in self._pages.items():
            if isinstance(page, RemembersLayout):
                prefix = f"{key}/"
                page.restore_layout({name.removeprefix(prefix): blob for name, blob in state.items()
                                     if name.startswith(prefix)})

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.menus.all_actions(), self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    # -- events ----------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self._keep_in_tray():
            # The app lives on in the tray; the tray's Quit ends it.
            event.ignore()
            self.hide()
            return
        event.accept()
        self.quit_requested.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self.drop_overlay.isVisible():
            self.drop_overlay.cover(self.drop_overlay.label.text())

    # -- slots -----------------------------------------------------------------------------------------
    @Slot(int)
    def _on_nav_row_changed(self, row: int) -> None:
        if row >= 0:
            self.stack.setCurrentIndex(row)

    @Slot(str)
    def _on_status_message_changed(self, text: str) -> None:
        # The bar cuts long lines at its edge: the whole line is in the tooltip (and in Messages).
        self.statusBar().setToolTip(text)

    @Slot(str, str, str)
    def _on_message(self, level: str, text: str, details: str) -> None:
        self.messages.add(level, text, details)
        first_line = text.splitlines()[0] if text else ""
        if level != Level.ERROR.value:
            self.statusBar().showMessage(first_line, 8000)
            return
        self.statusBar().showMessage(first_line, 15000)
        # One non-blocking box; a burst of errors updates it instead of stacking dialogs.
        if self._error_box is None:
            box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, "", QMessageBox.StandardButton.Ok, self)
            box.setObjectName("errorBox")
            dress_message_box(box)
            box.setWindowModality(Qt.WindowModality.WindowModal)
            self._error_box = box
        self._error_box.setText(text)
        # "Show Details…" only when there is more to see than the message itself.
        self._error_box.setDetailedText(details if details.strip() and details.strip() != text.strip() else "")
        self._error_box.open()

    @Slot()
    def _on_theme_changed(self) -> None:
        self._tint_nav_icons()

    def _tint_nav_icons(self) -> None:
        color = self._theme.colors.text
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            key = str(item.data(Qt.ItemDataRole.UserRole))
            item.setIcon(tinted_icon(self._nav_icons[key], color))
        self.add_button.setIcon(tinted_icon("action-add", self._theme.colors.accent_text))
        self.settings_button.setIcon(tinted_icon("action-settings", color))

    def retract_error(self, text: str) -> None:
        """Close the error box if it still shows ``text`` (the problem is over; the message stays in
        Messages)."""
        if self._error_box is not None and self._error_box.isVisible() and self._error_box.text() == text:
            self._error_box.close()
        if text and self.statusBar().currentMessage() == text.splitlines()[0]:
            self.statusBar().clearMessage()

    @property
    def error_box(self) -> QMessageBox | None:
        return self._error_box
