"""The live settings of a session: one object holds them, saves them, and says when they change."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from llama_wrangler.settings import ImportMode, Settings, save_settings
from llama_wrangler.settings_env import effective_values


class SettingsStore(QObject):
    """Signals:
        changed(Settings): new settings were saved (the old ones are gone).
    """

    changed = Signal(Settings)

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

    def remember_import_mode(self, mode: ImportMode) -> None:
        """The user ticked "don't ask again" when dropping files: keep ``mode`` and stop asking.
        Raises :class:`SettingsError` like :meth:`update`."""
        current = self._settings
        library = current.library.model_copy(update={"import_mode": mode, "import_mode_confirmed": True})
        self.update(current.model_copy(update={"library": library}))

    def in_force(self) -> list[str]:
        """The values the environment's conventions decide (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HOME,
        OLLAMA_MODELS), each with where it came from: one line each, for the Settings dialog."""
        return [value.describe() for value in effective_values(self._settings)]
