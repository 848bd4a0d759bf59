"""Composition root of the desktop app: the one place where objects meet.

:func:`run_gui` checks that a window can open at all, sets up logging, builds the Qt application and
hands over to :class:`WranglerApp`, which creates settings, library, jobs, supervisor, window and tray and
wires their signals. No module-level singletons: everything hangs off the ``WranglerApp`` instance.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from llama_wrangler import APP_NAME, __version__
from llama_wrangler.paths import AppPaths
from llama_wrangler.ui.platform_check import platform_problem

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QDialog

    from llama_wrangler.runtime.locate import LlamaRuntime

log = logging.getLogger("llama_wrangler")

# Set by bench/startup.py: print a timestamp when the main window is first exposed, then the idle RSS,
# then quit. Read when the app starts (never at import time).
STARTUP_PROBE_ENV = "LLAMA_WRANGLER_STARTUP_PROBE"


def configure_logging(log_file: Path) -> None:
    """Rotating app log (a few MB); the crash dialog points users at this file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _quit_on_ctrl_c(app: QApplication) -> None:
    """Ctrl+C in the terminal that started the app quits it cleanly (stopping the server).

    Python only runs signal handlers between bytecodes; while Qt's event loop waits in C++ that never
    happens, so a cheap timer hands control back to Python a few times a second.
    """
    import signal

    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda _signum, _frame: app.quit())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(300)


def run_gui(argv: list[str] | None = None) -> int:
    problem = platform_problem(os.environ)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    paths = AppPaths.from_environment().ensure()
    configure_logging(paths.app_log_file)
    log.info("%s %s starting", APP_NAME, __version__)

    # Qt is imported only here so `llama-wrangler <command>` never pays for it.
    from PySide6.QtWidgets import QApplication

    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("llama-wrangler")
    wrangler = WranglerApp(app, paths, startup_probe=bool(os.environ.get(STARTUP_PROBE_ENV)))
    wrangler.start()
    _quit_on_ctrl_c(app)
    code = app.exec()
    wrangler.shutdown()
    return code


class WranglerApp:
    """Owns every long-lived object of the GUI session and wires them together."""

    def __init__(self, app: QApplication, paths: AppPaths, *, startup_probe: bool = False,
                 tray_available: bool | None = None) -> None:
        from llama_wrangler.library.registry import Library
        from llama_wrangler.server.stable_service import StableEndpointService
        from llama_wrangler.server.supervisor import ServerSupervisor
        from llama_wrangler.settings import load_settings
        from llama_wrangler.ui.crash_dialog import CrashHandler
        from llama_wrangler.ui.hub_actions import HubActions
        from llama_wrangler.ui.main_window import MainWindow
        from llama_wrangler.ui.message import Messenger
        from llama_wrangler.ui.model_actions import ModelActions
        from llama_wrangler.ui.settings_store import SettingsStore
        from llama_wrangler.ui.theme import ThemeManager
        from llama_wrangler.ui.tray import TrayController
        from llama_wrangler.workers.jobs import JobManager

        self.app = app
        self.paths = paths
        self._startup_probe = startup_probe
        self._problems: list[str] = []  # shown in the status bar once the window is up
        self._serious: list[str] = []  # shown in a dialog: the user's data was set aside
        loaded = load_settings(paths.settings_file)
        if loaded.problem:
            self._serious.append(loaded.problem)
        self.settings = SettingsStore(loaded.settings, paths.settings_file)
        settings = loaded.settings

        self.crash_handler = CrashHandler(paths.app_log_file)
        self.crash_handler.install()
        self.messenger = Messenger()
        self.theme = ThemeManager(app, settings.ui.theme)
        self.theme.apply()
        from llama_wrangler.ui.icons import icon

        app.setWindowIcon(icon("app-icon"))

        self.library = Library(paths, models_dir=settings.library.models_dir)
        # Hashing starts once the window is up (see start()): it and its registry saves would compete
        # with start-up for the disk and the GIL.
        self.library.load(hash_now=False)
        if self.library.problem:
            self._serious.append(self.library.problem)
        self.jobs = JobManager.from_settings(settings, paths)
        self.supervisor = ServerSupervisor(self._server_binary(), settings.server,
                                           log_file=paths.server_log_file)
        # The stable endpoint opens on the first serve, not here: browsing models must not take a port.
        self.stable = StableEndpointService(self.supervisor, self._resolve_requested_model)
        self.actions = ModelActions(self.library, self.supervisor, self.jobs, self.messenger,
                                    before_serve=self._before_serve)
        self.hub = HubActions(paths, self.library, self.jobs, settings, self.messenger)

        self.tray = TrayController(self.actions, self.supervisor, self.jobs,
                                   notifications=settings.ui.notifications, tray_available=tray_available)
        self.window = MainWindow(self.messenger, self.theme, keep_in_tray=self._keep_in_tray)
        self.crash_handler.dialog_parent = self.window
        self._build_pages()
        self._wire()

    # -- construction ----------------------------------------------------------------------------------
    def _server_binary(self, *, report: bool = True) -> Path | LlamaRuntime:
        from llama_wrangler.errors import LlamaRuntimeError
        from llama_wrangler.runtime.locate import locate_runtime

        try:
            # The whole runtime, not just the binary: the supervisor also drives the llama-cpp-python
            # fallback server that way.
            return locate_runtime(self.settings.settings, self.paths)
        except LlamaRuntimeError as exc:
            # The window still opens: the library and downloads work without a runtime, and the
            # server page says what is missing when the user presses Start.
            if report:
                self._problems.append(str(exc))
            return self.paths.runtime_root / "bin" / "llama-server"

    def _refresh_runtime(self) -> None:
        """Look for llama-server again (installed with the CLI, or its path changed in the settings while
        the app ran). Only file checks: cheap enough right before a start."""
        self.supervisor.set_server_binary(self._server_binary(report=False))

    def _before_serve(self) -> None:
        self._refresh_runtime()
        self.stable.apply(self.settings.settings.server, opening=True)

    def _resolve_requested_model(self, model_id: str) -> tuple[Path, str]:
        """A model an API request named (on the GUI thread, from the stable endpoint's swap signal)."""
        from llama_wrangler.errors import ModelNotFoundError

        record = self.actions.find(model_id)
        if record is None or record.missing:
            raise ModelNotFoundError(f"The model {model_id} is not in the library or its file is missing.")
        self._refresh_runtime()
        return record.path, record.id

    def _build_pages(self) -> None:
        from llama_wrangler.ui.downloads_view import DownloadsView
        from llama_wrangler.ui.library_view import LibraryView
        from llama_wrangler.ui.server_view import ServerView

        self.library_view = LibraryView(self.theme)
        self.downloads_view = DownloadsView(self.jobs)
        self.server_view = ServerView(self.supervisor, self.actions, self.theme)
        self.window.add_page("library", "Library", "nav-library", self.library_view)
        self.window.add_page("downloads", "Downloads", "nav-downloads", self.downloads_view)
        self.window.add_page("server", "Server", "nav-server", self.server_view)
        self.library_view.set_records(self.actions.models())
        self.stable.set_catalog([record.id for record in self.actions.models() if not record.missing])

    def _wire(self) -> None:
        from llama_wrangler.ui.drop_import import DropImporter
        from llama_wrangler.ui.import_mode_dialog import dialog_chooser

        actions, details = self.actions, self.library_view.details
        details.serve_requested.connect(actions.serve)
        details.stop_requested.connect(actions.stop)
        details.show_in_folder_requested.connect(actions.show_in_folder)
        details.remove_requested.connect(self._confirm_remove)
        details.requantize_requested.connect(self._requantize)
        actions.library_changed.connect(self._on_library_changed)

        self.supervisor.state_changed.connect(self._on_server_changed)
        self.supervisor.endpoint_changed.connect(self._on_server_changed)
        self.supervisor.error.connect(lambda message: self.messenger.error(
            message.split("\n", 1)[0], details=message))
        self._on_server_changed()

        self.tray.show_window_requested.connect(self.window.bring_to_front)
        self.tray.quit_requested.connect(self.app.quit)
        self.window.quit_requested.connect(self.app.quit)
        self.window.settings_requested.connect(self.open_settings)
        self.window.add_model_requested.connect(self.open_add_model)
        self.settings.changed.connect(self._on_settings_changed)
        # With a tray the app outlives its window; without one, closing the window ends it.
        self.app.setQuitOnLastWindowClosed(not self.tray.available)

        self.drop_importer = DropImporter(
            self.window, self.messenger,
            dialog_chooser(self.window, lambda: self.settings.settings.library.import_mode),
            mode=lambda: (self.settings.settings.library.import_mode,
                          self.settings.settings.library.import_mode_confirmed))
        self.drop_importer.import_requested.connect(self._on_import_requested)
        self.drop_importer.mode_remembered.connect(self._remember_import_mode)
        self.drop_importer.install(self.app)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        from llama_wrangler.ui.first_shown import FirstShown

        self.tray.show()
        self.window.show()
        self._hashing_start = FirstShown(self.window, self.library.start_hashing)
        for problem in self._problems:
            self.messenger.warning(problem)
        if self._serious:
            self.messenger.error("\n\n".join(self._serious))
        self.hub.restore_interrupted()
        if self._startup_probe:
            from llama_wrangler.ui.startup_probe import StartupProbe

            self._probe = StartupProbe(self.window, self.app)

    def shutdown(self) -> None:
        self.actions.close()
        self.drop_importer.remove(self.app)
        self.supervisor.shutdown()
        self.stable.close()
        self.jobs.shutdown()
        self.library.close()
        # Late queued signals must not reach widgets that are about to go (WranglerApp is no QObject,
        # so Qt cannot disconnect its slots by itself).
        for source in (self.supervisor, self.messenger, self.settings):
            source.blockSignals(True)
        self.tray.hide()
        self.crash_handler.uninstall()

    def _keep_in_tray(self) -> bool:
        return self.tray.available and self.settings.settings.ui.close_to_tray

    # -- slots -----------------------------------------------------------------------------------------
    def _on_library_changed(self) -> None:
        models = self.actions.models()
        self.library_view.set_records(models)
        self.stable.set_catalog([record.id for record in models if not record.missing])

    def _on_server_changed(self, *_args: object) -> None:
        sup = self.supervisor
        model_id = self.actions.serving_id()
        record = self.actions.find(model_id) if model_id else None
        self.window.server_status.set_state(sup.state, record.name if record else model_id,
                                            sup.client_endpoint)
        self.library_view.set_served(sup.model_id, sup.state)

    def _on_import_requested(self, paths: list[Path], mode: str) -> None:
        from llama_wrangler.settings import ImportMode

        self.actions.import_paths(paths, ImportMode(mode))
        self.messenger.info(f"Importing {len(paths)} item(s)… (see Downloads for progress)")

    def _remember_import_mode(self, mode: str) -> None:
        from llama_wrangler.errors import SettingsError
        from llama_wrangler.settings import ImportMode

        current = self.settings.settings
        library = current.library.model_copy(update={"import_mode": ImportMode(mode),
                                                      "import_mode_confirmed": True})
        try:
            self.settings.update(current.model_copy(update={"library": library}))
        except SettingsError as exc:
            self.messenger.report(exc)

    def _on_settings_changed(self, settings: object) -> None:
        from llama_wrangler.settings import Settings

        assert isinstance(settings, Settings)
        self.stable.apply(settings.server, opening=False)  # gives the supervisor its settings too
        self.hub.set_settings(settings)
        self._refresh_runtime()
        self.theme.apply(settings.ui.theme)
        self.tray.notifications = settings.ui.notifications
        self.jobs.set_limit("download", settings.downloads.max_parallel_downloads)
        self.jobs.set_limit("convert", settings.downloads.max_parallel_conversions)
        self.app.setQuitOnLastWindowClosed(not self.tray.available)

    def open_settings(self) -> QDialog:
        from llama_wrangler.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.window)
        dialog.finished.connect(dialog.deleteLater)
        dialog.saved.connect(lambda _s: self.messenger.info("Settings saved."))
        dialog.open()
        return dialog

    def open_add_model(self) -> QDialog:
        from llama_wrangler.ui.add_model_dialog import AddModelDialog

        settings = self.settings.settings
        dialog = AddModelDialog(self.hub.inspect, context=settings.server.context_size,
                                default_quant=settings.downloads.default_quant, parent=self.window)
        dialog.download_requested.connect(self._on_download_requested)
        dialog.convert_requested.connect(self._on_convert_requested)
        dialog.pull_requested.connect(self._on_pull_requested)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _on_download_requested(self, listing: object, choice: object) -> None:
        from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing

        assert isinstance(listing, RepoListing) and isinstance(choice, QuantChoice)
        self.hub.download(listing, choice)
        self.window.show_page("downloads")

    def _on_convert_requested(self, reference: str, quant: str) -> None:
        self.hub.convert(reference, quant)
        self.window.show_page("downloads")

    def _on_pull_requested(self, reference: str) -> None:
        self.hub.pull(reference)
        self.window.show_page("downloads")

    def _confirm_remove(self, model_id: str) -> None:
        from llama_wrangler.ui.remove_dialog import RemoveDialog

        record = self.actions.find(model_id)
        if record is None:
            return
        dialog = RemoveDialog(record, self.window)
        dialog.confirmed.connect(lambda delete: self.actions.remove(model_id, delete_file=bool(delete)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _requantize(self, model_id: str) -> None:
        from llama_wrangler.ui.requantize_dialog import RequantizeDialog, can_requantize

        record = self.actions.find(model_id)
        if record is None:
            return
        if not can_requantize(record):
            self.messenger.warning(f"{record.name} is already quantized ({record.info.quant}); re-quantizing "
                                   "it again loses quality. Start from an F16 or BF16 GGUF.")
            return
        dialog = RequantizeDialog(record, self.settings.settings.downloads.default_quant, self.window)
        dialog.chosen.connect(lambda quant: self._start_requantize(model_id, quant))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _start_requantize(self, model_id: str, quant: str) -> None:
        record = self.actions.find(model_id)
        if record is not None:
            self.hub.requantize(record, quant)
            self.window.show_page("downloads")
