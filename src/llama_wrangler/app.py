"""Composition root of the desktop app: the one place where objects meet.

:class:`WranglerApp` creates settings, library, jobs, supervisor, services, window, pages and tray, and
wires their signals. Nothing else happens here: what the user can do lives in ``services/``, dialogs in
``ui/dialog_flows.py``, start-up checks in :mod:`llama_wrangler.gui`. No module-level singletons:
everything hangs off the ``WranglerApp`` instance.

Imported only after :func:`llama_wrangler.gui.run_gui` has checked that Qt can open a window at all.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QApplication

from llama_wrangler.errors import LlamaRuntimeError, SettingsError
from llama_wrangler.library.registry import Library, ModelRecord
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.locate import locate_runtime
from llama_wrangler.runtime.report import RuntimeReport
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.run import ServeTarget
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.endpoint import EndpointService
from llama_wrangler.services.hub_actions import HubActions
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.model_actions import ModelActions
from llama_wrangler.services.pool_actions import PoolActions
from llama_wrangler.services.runtime_actions import NEEDED_TO_SERVE, RuntimeActions
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.services.store_scan import StoreScan
from llama_wrangler.services.web_policy import Site
from llama_wrangler.services.window_memory import WindowMemory
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
from llama_wrangler.ui.model_names import title_or_id
from llama_wrangler.ui.pool_panel import PoolPanel, worker_toggle
from llama_wrangler.ui.resident_panel import ResidentPanel
from llama_wrangler.ui.runtime_banner import RuntimeBanner
from llama_wrangler.ui.runtime_view import RuntimeView
from llama_wrangler.ui.server_problem import explain
from llama_wrangler.ui.server_view import ServerView
from llama_wrangler.ui.startup_probe import StartupProbe
from llama_wrangler.ui.store_offer import StoreOffer
from llama_wrangler.ui.theme import ThemeManager
from llama_wrangler.ui.tray import TrayController
from llama_wrangler.ui.web.pages import WebPages
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobManager


class WranglerApp:
    """Owns every long-lived object of the GUI session and wires them together."""

    def __init__(self, app: QApplication, paths: AppPaths, *, startup_probe: bool = False,
                 probe_web: bool = False, tray_available: bool | None = None) -> None:
        self.app = app
        self.paths = paths
        self._startup_probe = startup_probe
        self._probe_web = probe_web  # bench/startup.py: also load the Hugging Face tab and report its RSS
        self._problems: list[str] = []  # shown in the status bar once the window is up
        self._serious: list[str] = []  # shown in a dialog: the user's data was set aside
        self._server_error = ""  # the server failure the error box shows, if any
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
        # One model server per loaded model; the window shows the focused one (see ServerFleet).
        self.supervisor = ServerFleet(ServerSupervisor(self._server_binary(), settings.server,
                                                       log_file=paths.server_log_file))
        self.actions = ModelActions(self.library, self.supervisor, self.jobs, self.messenger,
                                    before_serve=self._before_serve)
        # The stable endpoint opens on the first serve, not here: browsing models must not take a port.
        self.stable = EndpointService(self.supervisor, self._resolve_requested_model)
        self.hub = HubActions(paths, self.library, self.jobs, settings, self.messenger)
        self.runtime = RuntimeActions(paths, self.settings, self.jobs, self.messenger)
        self.stores = StoreScan(self.library, self.jobs, self.messenger)
        self.pool = PoolActions(self.settings, self.supervisor, self.jobs, self.messenger, self._located_runtime,
                                paths)
        self.actions.set_serve_gate(self.pool.gate)
        self.hub.set_pool_memory(self.pool.pooled_memory)

        self.tray = TrayController(self.actions, self.supervisor, self.jobs, unload=self.stable.unload,
                                   notifications=settings.ui.notifications, tray_available=tray_available)
        self.window = MainWindow(self.messenger, self.theme, keep_in_tray=self._keep_in_tray)
        self.crash_handler.dialog_parent = self.window
        self.flows = DialogFlows(self.window, self.settings, self.actions, self.hub, self.messenger,
                                 tray_available=self.tray.available)
        self.library_view = LibraryView(self.theme)
        self.downloads_view = DownloadsView(self.jobs)
        self.server_view = ServerView(self.supervisor, self.actions, self.theme,
                                      endpoint_url=lambda: self.stable.url)
        self.window.add_page("library", "Library", "nav-library", self.library_view)
        self.window.add_page("downloads", "Downloads", "nav-downloads", self.downloads_view)
        self.window.add_page("server", "Server", "nav-server", self.server_view)
        self.runtime_view = RuntimeView()
        self.window.add_page("runtime", "llama.cpp", "nav-runtime", self.runtime_view)
        # First run: what is missing is said where the user looks, with the button that fixes it.
        self.library_banner = RuntimeBanner()
        self.server_banner = RuntimeBanner()
        self.store_offer = StoreOffer()
        self.library_view.add_notice(self.library_banner)
        self.library_view.add_notice(self.store_offer)
        self.server_view.add_notice(self.server_banner)
        self.window.menus.add_menu("&Model", self.library_view.menu_actions())
        self.window_memory = WindowMemory(paths.config_dir)
        self.residents = ResidentPanel(self.stable.refresh_residents, self._model_title)
        self.residents.set_settings(settings.server)
        self.server_view.add_section(self.residents)
        self.server_view.add_section(PoolPanel(self.pool, self.settings))
        self.tray.extra_actions.append(worker_toggle(self.pool, self.tray))
        self.tray.rebuild()
        # Hugging Face, Ollama and Chat: QtWebEngine loads the first time one of them is shown.
        self.web = WebPages(self.window, paths, self.settings, self.hub, self.actions, self.jobs, self.supervisor,
                            self.stable, self.messenger, self.flows.open_add_model)
        self.web.install()
        self.drop_importer = DropImporter(
            self.window, self.messenger,
            dialog_chooser(self.window, lambda: self.settings.settings.library.import_mode),
            mode=lambda: (self.settings.settings.library.import_mode,
                          self.settings.settings.library.import_mode_confirmed))
        self._wire()
        self._on_library_changed()

    # -- runtime ---------------------------------------------------------------------------------------
    def _server_binary(self) -> Path | LlamaRuntime:
        # The whole runtime, not just the binary: the supervisor also drives the llama-cpp-python
        # fallback server that way. Without one the window still opens: the library and downloads work,
        # and the first-run banner (fed by the background check) says what is missing, with Install.
        return self._located_runtime() or self.paths.runtime_root / "bin" / "llama-server"

    def _located_runtime(self) -> LlamaRuntime | None:
        try:
            return locate_runtime(self.settings.settings, self.paths)
        except LlamaRuntimeError:
            return None

    def _refresh_runtime(self) -> None:
        """Look for llama-server again (installed with the CLI, or its path changed in the settings while
        the app ran). Only file checks: cheap enough right before a start."""
        self.supervisor.set_server_binary(self._server_binary())

    def _usable_runtime(self) -> None:
        """Give the supervisor the runtime to serve with, or raise saying why there is none."""
        try:
            runtime = locate_runtime(self.settings.settings, self.paths)
        except LlamaRuntimeError as exc:
            self.runtime.refresh()
            if self.settings.settings.runtime.llama_server_path is not None:
                raise
            raise LlamaRuntimeError(NEEDED_TO_SERVE) from exc
        self.runtime.check_before_serve(runtime.server)
        self.supervisor.set_server_binary(runtime)

    def _before_serve(self) -> None:
        self._usable_runtime()
        self.stable.apply(self.settings.settings.server, opening=True)

    def _model_title(self, model_id: str) -> str:
        return title_or_id(self.actions.find(model_id), model_id)

    def _resolve_requested_model(self, model_ref: str) -> ServeTarget:
        """A model an API request named, with its load settings (on the GUI thread, from the endpoint)."""
        target = self.actions.resolve(model_ref)
        self._usable_runtime()
        return target.server_target()

    # -- wiring ----------------------------------------------------------------------------------------
    def _wire(self) -> None:
        actions, details, flows = self.actions, self.library_view.details, self.flows
        self.stable.residents.connect(self.residents.show_rows)
        self.residents.unload_requested.connect(self.stable.unload)
        self.residents.pin_requested.connect(actions.set_pinned)
        self.supervisor.slots_changed.connect(self.stable.refresh_residents)  # loads and unloads show at once
        self.supervisor.slots_changed.connect(self._mark_loaded)  # the library marks every loaded model
        details.serve_requested.connect(actions.serve)
        details.stop_requested.connect(actions.stop)
        details.show_in_folder_requested.connect(flows.show_in_folder)
        details.remove_requested.connect(flows.confirm_remove)
        details.requantize_requested.connect(flows.requantize)
        details.load_settings_requested.connect(flows.open_load_settings)
        actions.library_changed.connect(self._on_library_changed)

        self.supervisor.state_changed.connect(self._on_server_changed)
        self.supervisor.endpoint_changed.connect(self._on_server_changed)
        self.supervisor.error.connect(self._on_server_error)
        self.library_view.reveal_requested.connect(lambda: self.window.show_page("library"))
        self.library_view.rescan_requested.connect(actions.rescan)
        actions.imported.connect(self._on_imported)
        self.window.import_requested.connect(
            lambda: flows.choose_import_files(self.drop_importer.import_paths))
        self._on_server_changed()

        self.tray.show_window_requested.connect(self.window.bring_to_front)
        self.tray.quit_requested.connect(self.app.quit)
        self.window.quit_requested.connect(self.app.quit)
        self.window.settings_requested.connect(flows.open_settings)
        self.window.add_model_requested.connect(flows.open_add_model)
        self.settings.changed.connect(self._on_settings_changed)
        # With a tray the app outlives its window; without one, closing the window ends it.
        self.app.setQuitOnLastWindowClosed(not self.tray.available)

        self._wire_runtime()
        self.drop_importer.import_requested.connect(
            lambda paths, mode: actions.import_paths(paths, ImportMode(mode)))
        self.drop_importer.mode_remembered.connect(self._remember_import_mode)
        self.drop_importer.install(self.app)

    def _wire_runtime(self) -> None:
        runtime, view = self.runtime, self.runtime_view
        runtime.report_changed.connect(self._on_runtime_changed)
        runtime.report_changed.connect(self._on_runtime_report)
        runtime.checking_changed.connect(self._on_runtime_changed)
        runtime.job_started.connect(self._on_runtime_job)
        view.install_requested.connect(runtime.install)
        view.rebuild_requested.connect(runtime.rebuild)
        view.toolchain_requested.connect(runtime.install_toolchain)
        view.refresh_requested.connect(runtime.refresh)
        view.use_existing_requested.connect(lambda path: runtime.use_existing(Path(path)))
        view.cancel_requested.connect(self.jobs.cancel)
        view.open_log_requested.connect(lambda: view.open_log(runtime.build_log()))
        for banner in (self.library_banner, self.server_banner):
            banner.install_requested.connect(runtime.install)
            banner.details_requested.connect(lambda: self.window.show_page("runtime"))
        self.stores.found.connect(self.store_offer.offer)
        self.store_offer.accepted.connect(self.stores.use_in_place)
        self.library_view.find_other_apps_requested.connect(lambda: self.stores.scan(announce_none=True))

    def _remember_import_mode(self, mode: str) -> None:
        try:
            self.settings.remember_import_mode(ImportMode(mode))
        except SettingsError as exc:
            self.messenger.report(exc)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.tray.show()
        self.window.restore_layout(self.window_memory.load())
        self.window.show()
        self._hashing_start = FirstShown(self.window, self.library.start_hashing)
        for problem in self._problems:
            self.messenger.warning(problem)
        if self._serious:
            self.messenger.error("\n\n".join(self._serious))
        self.hub.restore_interrupted()
        self.runtime.refresh()  # a llama-server on PATH is run once (--version), off the GUI thread
        if not self.library.models():
            self.stores.scan()  # first run: offer what other apps already downloaded
        if self._startup_probe:
            self._probe = StartupProbe(self.window, self.app, self._probe_web_page if self._probe_web else None)

    def _probe_web_page(self) -> SignalInstance:
        tab = self.web.tab(Site.HF)
        self.window.show_page("huggingface")
        return tab.view.loadFinished

    def open_url(self, url: str) -> None:
        """A page handed over by ``llama-wrangler open`` or a second launch ('' just shows the window)."""
        if url:
            self.web.open_url(url)
        else:
            self.window.bring_to_front()

    def shutdown(self) -> None:
        self.window_memory.save(self.window.save_layout())
        self.actions.close()
        self.web.close()
        self.drop_importer.remove(self.app)
        self.supervisor.shutdown()
        self.pool.shutdown()
        self.stable.close()
        self.jobs.shutdown()
        self.library.close()
        # Late queued signals must not reach widgets that are about to go (WranglerApp is no QObject,
        # so Qt cannot disconnect its slots by itself).
        for source in (self.supervisor, self.messenger, self.settings, self.runtime, self.stores):
            source.blockSignals(True)
        self.tray.hide()
        self.crash_handler.uninstall()

    def _on_runtime_changed(self, *_args: object) -> None:
        runtime = self.runtime
        report = runtime.report
        self.runtime_view.show_report(report, checking=runtime.checking)
        job = runtime.build_job
        installing = ""
        if runtime.busy() and job is not None:
            progress = job.last_progress
            installing = ("starting" if progress is None else f"{progress.stage} {progress.fraction:.0%}"
                          if progress.fraction is not None else progress.stage or "working")
        for banner in (self.library_banner, self.server_banner):
            banner.show_report(report, installing=installing)
        blocker = runtime.serve_blocker()
        self.server_view.set_serve_blocker(blocker)
        self.library_view.details.set_serve_blocker(blocker)

    def _on_runtime_report(self, report: object) -> None:
        """A new check's report (not every progress tick of a job): serve with what it found usable."""
        if isinstance(report, RuntimeReport) and report.usable:
            self._refresh_runtime()

    def _on_runtime_job(self, job: object) -> None:
        if isinstance(job, Job):
            self.runtime_view.show_job(job)
            job.progress.connect(self._on_runtime_changed)
            job.state_changed.connect(self._on_runtime_changed)
            self._on_runtime_changed()

    def _keep_in_tray(self) -> bool:
        return self.tray.available and self.settings.settings.ui.close_to_tray

    # -- slots -----------------------------------------------------------------------------------------
    def _on_library_changed(self) -> None:
        models = self.actions.models()
        self.library_view.set_records(models)
        self.stable.set_models(models)

    def _on_server_error(self, message: str) -> None:
        problem = explain(message)
        self._server_error = problem.short_text()
        self.messenger.error(self._server_error, details=problem.full)

    def _on_imported(self, records: list[object]) -> None:
        first = next((r for r in records if isinstance(r, ModelRecord)), None)
        if first is not None:
            self.library_view.select_when_listed(first.id)

    def _on_server_changed(self, *_args: object) -> None:
        sup = self.supervisor
        if sup.state == ServerState.READY and self._server_error:
            # The server recovered: an error box still saying it crashed would be stale.
            self.window.retract_error(self._server_error)
            self._server_error = ""
        model_id = self.actions.serving_id()
        name = title_or_id(self.actions.find(model_id), model_id) if model_id else ""
        self.window.server_status.set_state(sup.state, name,
                                            sup.client_endpoint, open_endpoint=self.stable.url)
        self.library_view.set_served(sup.model_id, sup.state)
        self._mark_loaded()

    def _mark_loaded(self) -> None:
        sup = self.supervisor
        self.library_view.set_loaded({s.model_id: str(s.state) for s in sup.slots().values()
                                      if s.model_id and s.model_id != sup.model_id
                                      and s.state not in (ServerState.STOPPED, ServerState.CRASHED)})

    def _on_settings_changed(self, settings: Settings) -> None:
        self.stable.apply(settings.server, opening=False)  # gives the supervisor its settings too
        self.residents.set_settings(settings.server)
        self.server_view.refresh()  # the endpoint may have opened, moved or closed
        self._on_server_changed()
        self.hub.set_settings(settings)
        self._refresh_runtime()
        self.theme.apply(settings.ui.theme)
        self.tray.notifications = settings.ui.notifications
        self.runtime.settings_changed()
        self.jobs.set_limit(JobKind.DOWNLOAD, settings.downloads.max_parallel_downloads)
        self.jobs.set_limit(JobKind.CONVERT, settings.downloads.max_parallel_conversions)
        self.app.setQuitOnLastWindowClosed(not self.tray.available)
