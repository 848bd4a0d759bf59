"""The window's dialogs and what happens when they are answered: Settings, Add model, Remove,
Re-quantize, Load settings, and "show in folder". Each flow opens a non-blocking dialog owned by the main window and
hands the answer to a service; nothing here does I/O of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog

from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.services.hub_actions import HubActions
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.model_actions import ModelActions
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing
from llama_wrangler.ui.add_model_dialog import AddModelDialog
from llama_wrangler.ui.load_settings_dialog import LoadSettingsDialog
from llama_wrangler.ui.main_window import MainWindow
from llama_wrangler.ui.remove_dialog import RemoveDialog
from llama_wrangler.ui.requantize_dialog import RequantizeDialog, can_requantize
from llama_wrangler.ui.settings_dialog import SettingsDialog


class DialogFlows(QObject):
    """Opens the dialogs of ``window`` and routes their answers to the services."""

    def __init__(self, window: MainWindow, settings: SettingsStore, actions: ModelActions, hub: HubActions,
                 messenger: Messenger, *, tray_available: bool = False) -> None:
        super().__init__(window)
        self._tray_available = tray_available
        self._window = window
        self._settings = settings
        self._actions = actions
        self._hub = hub
        self._messenger = messenger

    def open_settings(self) -> QDialog:
        dialog = SettingsDialog(self._settings, self._window, tray_available=self._tray_available)
        dialog.finished.connect(dialog.deleteLater)
        dialog.saved.connect(lambda _s: self._messenger.info("Settings saved."))
        dialog.open()
        return dialog

    def choose_import_files(self, chosen: Callable[[list[Path]], None]) -> QFileDialog:
        """File → Import (Ctrl+O): pick .gguf files; ``chosen(paths)`` gets them (not called on cancel)."""
        dialog = QFileDialog(self._window, "Import model files")
        dialog.setObjectName("importFilesDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilters(["GGUF models (*.gguf)", "All files (*)"])
        dialog.filesSelected.connect(lambda files: chosen([Path(f) for f in files]))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_add_model(self, reference: str = "") -> QDialog:
        """The Add-model dialog; with ``reference`` (a repo from a browser page) it looks it up at once and
        shows the quant picker, the recommended quant marked."""
        settings = self._settings.settings
        dialog = AddModelDialog(self._hub.inspect, search=self._hub.search, inspect_ollama=self._hub.inspect_ollama,
                                context=settings.server.context_size,
                                default_quant=settings.downloads.default_quant, parent=self._window)
        dialog.download_requested.connect(self._on_download_requested)
        dialog.convert_requested.connect(self._on_convert_requested)
        dialog.pull_requested.connect(self._on_pull_requested)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        if reference:
            dialog.input.setText(reference)
            dialog.inspect()
        return dialog

    def _on_download_requested(self, listing: RepoListing, choice: QuantChoice) -> None:
        self._hub.download(listing, choice)
        self._window.show_page("downloads")

    def _on_convert_requested(self, reference: str, quant: str) -> None:
        self._hub.convert(reference, quant)
        self._window.show_page("downloads")

    def _on_pull_requested(self, reference: str) -> None:
        self._hub.pull(reference)
        self._window.show_page("downloads")

    def confirm_remove(self, model_id: str) -> None:
        record = self._actions.find(model_id)
        if record is None:
            return
        dialog = RemoveDialog(record, self._window)
        dialog.confirmed.connect(lambda delete: self._actions.remove(model_id, delete_file=bool(delete)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def requantize(self, model_id: str) -> None:
        record = self._actions.find(model_id)
        if record is None:
            return
        if not can_requantize(record):
            self._messenger.warning(f"{record.name} is already quantized ({record.info.quant}); re-quantizing "
                                    "it again loses quality. Start from an F16 or BF16 GGUF.")
            return
        dialog = RequantizeDialog(record, self._settings.settings.downloads.default_quant, self._window)
        dialog.chosen.connect(lambda quant: self._start_requantize(model_id, quant))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _start_requantize(self, model_id: str, quant: str) -> None:
        record = self._actions.find(model_id)
        if record is not None:
            self._hub.requantize(record, quant)
            self._window.show_page("downloads")

    def open_load_settings(self, model_id: str) -> QDialog | None:
        """"Load settings…" for one model; saving hands them to ModelActions (a served model reloads)."""
        record = self._actions.find(model_id)
        if record is None:
            return None
        dialog = LoadSettingsDialog(record, self._settings.settings.server, self._window)
        dialog.saved.connect(lambda load: self._save_load_settings(model_id, load))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _save_load_settings(self, model_id: str, load: LoadSettings) -> None:
        serving = self._actions.serving_id() == model_id
        if self._actions.set_load_settings(model_id, load):
            self._messenger.info(f"Load settings of {model_id} saved" + (
                "; it reloads with them once its running requests finish." if serving else "."))

    def show_in_folder(self, model_id: str) -> None:
        record = self._actions.find(model_id)
        if record is None:
            return
        folder: Path = record.path.parent
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self._messenger.warning(f"Could not open a file manager. The model is in {folder}")
