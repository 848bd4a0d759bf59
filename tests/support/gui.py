"""Helpers for GUI tests: a whole app session (``WranglerApp``) on the offscreen platform, torn down
cleanly, and a real drop event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from llama_wrangler.app import WranglerApp
from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import Settings, save_settings


def start_app(app: QApplication, paths: AppPaths, settings: Settings | None = None) -> WranglerApp:
    if settings is not None:
        save_settings(paths.settings_file, settings)
    wrangler = WranglerApp(app, paths, tray_available=False)
    wrangler.start()
    return wrangler


def stop_app(wrangler: WranglerApp) -> None:
    wrangler.shutdown()
    wrangler.window.hide()
    wrangler.window.deleteLater()
    # The app-wide stylesheet and palette would leak into later tests' widgets.
    wrangler.app.setStyleSheet("")
    # Delete the window now, not whenever an event loop next runs: live windows make every later
    # restyle (theme tests) slow.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def app_session(app: QApplication, paths: AppPaths, settings: Settings | None = None) -> Iterator[WranglerApp]:
    wrangler = start_app(app, paths, settings)
    try:
        yield wrangler
    finally:
        stop_app(wrangler)


def drop_files(target: QWidget, files: list[Path] | list[QUrl]) -> QDropEvent:
    """Deliver a real drag-enter and drop of ``files`` onto ``target`` (through the app's event filters,
    exactly as a window system's drop arrives)."""
    mime = QMimeData()
    mime.setUrls([f if isinstance(f, QUrl) else QUrl.fromLocalFile(str(f)) for f in files])
    # Delivered to the native window at the target's centre, as the platform delivers a drop: Qt then
    # routes it to the widget under that point (unless a filter on the window takes it first).
    top = target.window()
    handle = top.windowHandle()
    center = target.mapTo(top, QPointF(target.width() / 2, target.height() / 2))
    receiver: QObject = handle if handle is not None else target
    point = center if handle is not None else QPointF(target.width() / 2, target.height() / 2)
    # QDragEnterEvent takes an integer point, QDropEvent a float one (as in C++ Qt 6).
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(receiver, enter)
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(receiver, drop)
    return drop
