"""Drag-and-drop import: ``.gguf`` files or folders dropped anywhere on the main window are imported with
the import mode from the settings; the first time, the user is asked (and may have it remembered).

An event filter on the main window's native window (its ``QWindow``) catches the drag before Qt hands it to
the widget under the cursor — over the table, a text field, the sidebar or a web page — so "anywhere on the
window" holds without every widget opting in. (Not an application-wide filter: with one, PySide 6.11 recurses
without end creating wrappers for QtWebEngine's internal objects, and a visible browser tab crashes the app.)
Anything that is not a local ``.gguf`` file or folder gets a clear message and changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from llama_wrangler.services.import_work import ImportPlan, plan_import
from llama_wrangler.services.messages import Messenger
from llama_wrangler.settings import ImportMode
from llama_wrangler.ui.main_window import MainWindow

# ask(callback) shows the import-mode question and later calls callback(mode, remember), or never calls
# it when the user cancels. Injected so tests can answer without a dialog.
ModeChooser = Callable[[Callable[[ImportMode, bool], None]], None]


def plan_drop(mime: QMimeData) -> ImportPlan:
    """What a drop contains: local paths are sorted by :func:`plan_import`, anything else is refused."""
    local = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    plan = plan_import(local)
    plan.refused[:0] = [f"{url.toString()} (not a file on this computer)" for url in mime.urls()
                        if not url.isLocalFile()]
    return plan


def _has_urls(event: QEvent) -> bool:
    mime = event.mimeData() if isinstance(event, QDragEnterEvent | QDragMoveEvent | QDropEvent) else None
    return mime is not None and mime.hasUrls()


class DropImporter(QObject):
    """Event filter that turns drops on ``window`` into imports.

    Signals:
        import_requested(list paths, str mode): call the import (``ModelActions.import_paths``).
        mode_remembered(str mode): the user asked us to remember the import mode (save it).
    """

    import_requested = Signal(list, str)
    mode_remembered = Signal(str)

    def __init__(self, window: MainWindow, messenger: Messenger, ask_mode: ModeChooser, *,
                 mode: Callable[[], tuple[ImportMode, bool]], parent: QObject | None = None) -> None:
        """``mode()`` returns (import mode from settings, whether the user already confirmed it)."""
        super().__init__(parent)
        self._window = window
        self._messenger = messenger
        self._ask_mode = ask_mode
        self._mode = mode
        self._usable = False
        self._watched: list[QWidget] = []
        window.setAcceptDrops(True)

    def install(self, app: QApplication) -> None:
        """Watch the window and the widgets in it that take drops themselves (text fields).

        Not an application-wide filter: PySide would wrap every event of every object in Python, and with
        QtWebEngine in the process that segfaults a few seconds after a page loads (seen on 6.11 under
        Xvfb: QtWebEngine's own widgets are torn down and re-created while their events pass the filter).
        A drag is delivered to the widget under the cursor or its nearest parent that accepts drops, so
        these widgets see every drop on the window."""
        del app  # kept in the signature: install/remove pair with the application's lifetime
        self._watched = [self._window, *(w for w in self._window.findChildren(QWidget) if w.acceptDrops())]
        for widget in self._watched:
            widget.installEventFilter(self)

    def remove(self, app: QApplication) -> None:
        del app
        for widget in getattr(self, "_watched", []):
            with contextlib.suppress(RuntimeError):  # already deleted with the window
                widget.removeEventFilter(self)
        self._watched = []

    def _in_window(self, watched: QObject) -> bool:
        return watched is self._window.windowHandle() or (
            isinstance(watched, QWidget) and (watched is self._window or watched.window() is self._window))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.DragLeave, QEvent.Type.Drop):
            return False
        if not self._in_window(watched):
            return False
        if kind == QEvent.Type.DragLeave:
            self._window.drop_overlay.hide()
            return False
        if not _has_urls(event) or not isinstance(event, QDragEnterEvent | QDragMoveEvent | QDropEvent):
            return False  # plain text dragged into a text field: Qt's own handling
        if kind == QEvent.Type.DragEnter:
            # Checked once per drag (a stat per path), not on every mouse move.
            self._usable = bool(plan_drop(event.mimeData()).usable)
            self._window.drop_overlay.cover("Drop to add to your library" if self._usable
                                            else "Only .gguf files or folders can be added")
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if kind == QEvent.Type.DragEnter or self._usable:
                # The enter is accepted even for an unusable drag, so that the leave arrives (and hides
                # the overlay); the moves are what decide the cursor.
                event.acceptProposedAction()
            else:
                event.setDropAction(Qt.DropAction.IgnoreAction)
                event.ignore()  # the "no entry" cursor: this drop would do nothing
            return True
        self._window.drop_overlay.hide()
        plan = plan_drop(event.mimeData())  # the drop itself decides, whatever the drag said
        if plan.usable:
            event.acceptProposedAction()
        else:
            event.ignore()
        self.import_plan(plan)  # imports, or says why not
        return True

    def import_paths(self, paths: list[Path]) -> None:
        """Import files the user picked (File → Import, Ctrl+O) exactly as if they had been dropped."""
        self.import_plan(plan_import(paths))

    def import_plan(self, plan: ImportPlan) -> None:
        if not plan.usable:
            listed = "; ".join(plan.refused[:3]) or "nothing usable"
            self._messenger.warning("Only .gguf model files, or folders holding them, can be added. "
                                    f"Nothing was changed. Dropped: {listed}.")
            return
        if plan.refused:
            self._messenger.warning(f"Skipped {len(plan.refused)} item(s) that are not .gguf models: "
                                    + "; ".join(plan.refused[:3]))
        mode, confirmed = self._mode()
        paths = list(plan.usable)
        if confirmed:
            self.import_requested.emit(paths, mode.value)
            return

        def chosen(choice: ImportMode, remember: bool) -> None:
            if remember:
                self.mode_remembered.emit(choice.value)
            self.import_requested.emit(paths, choice.value)

        self._ask_mode(chosen)
