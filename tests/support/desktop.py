"""Stands in for the desktop in tests: URLs Qt would hand to the OS (QDesktopServices.openUrl) land here."""

from __future__ import annotations

from PySide6.QtCore import QObject, QUrl, Slot


class UrlCatcher(QObject):
    """Stands in for the desktop: every URL Qt would hand to the OS for these schemes lands here."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def catch(self, url: QUrl) -> None:
        self.urls.append(url.toString())
