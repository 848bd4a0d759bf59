"""Where the window was and how it was laid out (size, position, splitters, column widths), kept between
sessions in ``window-state.ini`` beside ``settings.json``.

Not part of :class:`~llama_wrangler.settings.Settings`: these are Qt's own opaque blobs
(``saveGeometry``/``saveState``), not choices a user makes or edits, and a bad one must never make the
settings file invalid. ``QSettings`` with an explicit INI file reads and writes them (atomically, with a
lock file) without any plumbing of ours, and the explicit path keeps it inside the app's folder (and
``LLAMA_WRANGLER_HOME``) instead of Qt's default per-user location. QtCore only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

FILE_NAME = "window-state.ini"
GROUP = "layout"


class WindowMemory:
    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / FILE_NAME
        self._store = QSettings(str(self.path), QSettings.Format.IniFormat)

    def load(self) -> dict[str, QByteArray]:
        """Every remembered blob by key ({} on the first run, or when the file is unreadable)."""
        found: dict[str, QByteArray] = {}
        self._store.beginGroup(GROUP)
        try:
            for key in self._store.allKeys():  # "library/splitter" is a key in a subgroup
                value = self._store.value(key)
                if isinstance(value, bytes | bytearray):  # how PySide hands a stored QByteArray back
                    value = QByteArray(bytes(value))
                if isinstance(value, QByteArray) and not value.isEmpty():
                    found[key] = value
        finally:
            self._store.endGroup()
        return found

    def save(self, state: dict[str, QByteArray]) -> None:
        self._store.beginGroup(GROUP)
        try:
            for key, value in state.items():
                self._store.setValue(key, value)
        finally:
            self._store.endGroup()
        self._store.sync()
