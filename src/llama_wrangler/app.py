"""Composition root of the desktop app: the one place where objects meet.

:class:`WranglerApp` creates settings, library, jobs, supervisor, services, window, pages and tray, and
wires their signals. Nothing else happens here: what the user can do lives in ``services/``, dialogs in
``ui/dialog_flows.py``, start-up checks in :mod:`llama_wrangler.gui`. No module-level singletons:
everything hangs off the ``WranglerApp`` instance.

Imported only after :func:`llama_wrangler.gui.run_gui` has checked that Qt can open a window at all.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from llama_wrangler.errors import LlamaRuntimeError, SettingsError
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.locate import locate_runtime
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.endpoint import EndpointService
from llama_wrangler.services.hub_actions import HubActions
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.model_actions import ModelActions
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.settings import ImportMode, Settings, load_settings
from llama_wrangler.ui.crash_dialog import CrashHandler
from llama_wrangler.ui.dialog_flows import DialogFlows
from llama_wrangler.ui.downloads_view import DownloadsView
from llama_wrangler.ui.drop_import import DropImporter
from llama_wrangler.ui.first_shown import FirstShown
from llama_wrangler.ui.icons import icon
from llama_wrangler.ui.import_mode_dialog import dialog_chooser
from llama_wrangler.ui.library_view import LibraryView
from llama_wrangler.ui.main_window import MainWindow
from llama_wrangler.ui.server_view import ServerView
from llama_wrangler.ui.startup_probe import StartupProbe
from llama_wrangler.ui.theme import ThemeManager
from llama_wrangler.ui.tray import TrayController
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import JobManager


class WranglerApp:
    """Owns every long-lived object of the GUI session and wires them together."""

    def __init__(self, app: QApplication, paths: AppPaths, *, startup_probe: bool = False,
                 tray_available: bool | None = None) -> None:
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
        self.actions = ModelActions(self.library, self.supervisor, self.jobs, self.messenger,
                                    before_serve=self._before_serve)
        # The stable endpoint opens on the first serve, not here: browsing models must not take a port.
        self.stable = EndpointService(self.supervisor, self._resolve_requested_model)
        self.hub = HubActions(paths, self.library, self.jobs, settings, self.messenger)

        self.tray = TrayController(self.actions, self.supervisor, self.jobs,
                                   notifications=settings.ui.notifications, tray_available=tray_available)
        self.window = MainWindow(self.messenger, self.theme, keep_in_tray=self._keep_in_tray)
        self.crash_handler.dialog_parent = self.window
        self.flows = DialogFlows(self.window, self.settings, self.actions, self.hub, self.messenger)
        self.library_view = LibraryView(self.theme)
        self.downloads_view = DownloadsView(self.jobs)
        self.server_view = ServerView(self.supervisor, self.actions, self.theme)
        self.window.add_page("library", "Library", "nav-library", self.library_view)
        self.window.add_page("downloads", "Downloads", "nav-downloads", self.downloads_view)
        self.window.add_page("server", "Server", "nav-server", self.server_view)
        self.drop_importer = DropImporter(
            self.window, self.messenger,
            dialog_chooser(self.window, lambda: self.settings.settings.library.import_mode),
            mode=lambda: (self.settings.settings.library.import_mode,
                          self.settings.settings.library.import_mode_confirmed))
        self._wire()
        self._on_library_changed()

    # -- runtime ---------------------------------------------------------------------------------------
    def _server_binary(self, *, report: bool = True) -> Path | LlamaRuntime:
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

    def _resolve_requested_model(self, model_ref: str) -> tuple[Path, str, Path | None]:
        """A model an API request named (on the GUI thread, from the stable endpoint's swap signal)."""
        target = self.actions.resolve(model_ref)
        self._refresh_runtime()
        return target.path, target.model_id, target.mmproj

    # -- wiring ----------------------------------------------------------------------------------------
    def _wire(self) -> None:
        actions, details, flows = self.actions, self.library_view.details, self.flows
        details.serve_requested.connect(actions.serve)
        details.stop_requested.connect(actions.stop)
        details.show_in_folder_requested.connect(flows.show_in_folder)
        details.remove_requested.connect(flows.confirm_remove)
        details.requantize_requested.connect(flows.requantize)
        actions.library_changed.connect(self._on_library_changed)

        self.supervisor.state_changed.connect(self._on_server_changed)
        self.supervisor.endpoint_changed.connect(self._on_server_changed)
        self.supervisor.error.connect(lambda message: self.messenger.error(
            message.split("\n", 1)[0], details=message))
        self._on_server_changed()

        self.tray.show_window_requested.connect(self.window.bring_to_front)
        self.tray.quit_requested.connect(self.app.quit)
        self.window.quit_requested.connect(self.app.quit)
        self.window.settings_requested.connect(flows.open_settings)
        self.window.add_model_requested.connect(flows.open_add_model)
        self.settings.changed.connect(self._on_settings_changed)
        # With a tray the app outlives its window; without one, closing the window ends it.
        self.app.setQuitOnLastWindowClosed(not self.tray.available)

        self.drop_importer.import_requested.connect(
            lambda paths, mode: actions.import_paths(paths, ImportMode(mode)))
        self.drop_importer.mode_remembered.connect(self._remember_import_mode)
        self.drop_importer.install(self.app)

    def _remember_import_mode(self, mode: str) -> None:
        try:
            self.settings.remember_import_mode(ImportMode(mode))
        except SettingsError as exc:
            self.messenger.report(exc)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.tray.show()
        self.window.show()
        self._hashing_start = FirstShown(self.window, self.library.start_hashing)
        for problem in self._problems:
            self.messenger.warning(problem)
        if self._serious:
            self.messenger.error("\n\n".join(self._serious))
        self.hub.restore_interrupted()
        if self._startup_probe:
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

    def _on_settings_changed(self, settings: Settings) -> None:
        self.stable.apply(settings.server, opening=False)  # gives the supervisor its settings too
        self.hub.set_settings(settings)
        self._refresh_runtime()
        self.theme.apply(settings.ui.theme)
        self.tray.notifications = settings.ui.notifications
        self.jobs.set_limit(JobKind.DOWNLOAD, settings.downloads.max_parallel_downloads)
        self.jobs.set_limit(JobKind.CONVERT, settings.downloads.max_parallel_conversions)
        self.app.setQuitOnLastWindowClosed(not self.tray.available)
