"""The live settings of the GUI session: one object holds them, saves them, and says when they change."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from llama_wrangler.settings import Settings, save_settings


class SettingsStore(QObject):
    """Signals:
        changed(Settings): new settings were saved (the old ones are gone).
    """

    changed = Signal(object)

    def __init__(self, settings: Settings, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._path = path

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def path(self) -> Path:
        return self._path

    def update(self, settings: Settings) -> None:
        """Save and publish. Raises :class:`SettingsError` (nothing changes) if the file cannot be written."""
        save_settings(self._path, settings)
        self._settings = settings
        self.changed.emit(settings)
