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
    from PySide6.QtWidgets import QApplication

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
    code = app.exec()
    wrangler.shutdown()
    return code


class WranglerApp:
    """Owns every long-lived object of the GUI session and wires them together."""

    def __init__(self, app: QApplication, paths: AppPaths, *, startup_probe: bool = False) -> None:
        from llama_wrangler.settings import load_settings
        from llama_wrangler.ui.crash_dialog import CrashHandler
        from llama_wrangler.ui.main_window import MainWindow
        from llama_wrangler.ui.message import Messenger
        from llama_wrangler.ui.theme import ThemeManager
        from llama_wrangler.workers.jobs import JobManager

        self.app = app
        self.paths = paths
        self._startup_probe = startup_probe
        loaded = load_settings(paths.settings_file)
        self.settings = loaded.settings
        self._settings_problem = loaded.problem

        self.crash_handler = CrashHandler(paths.app_log_file)
        self.crash_handler.install()
        self.messenger = Messenger()
        self.theme = ThemeManager(app, self.settings.ui.theme)
        self.theme.apply()
        self.jobs = JobManager.from_settings(self.settings, paths)
        self.window = MainWindow(self.messenger, self.theme)
        self.crash_handler.dialog_parent = self.window
        self.window.quit_requested.connect(app.quit)

    def start(self) -> None:
        self.window.show()
        if self._settings_problem:
            self.messenger.warning(self._settings_problem)
        if self._startup_probe:
            from llama_wrangler.ui.startup_probe import StartupProbe

            self._probe = StartupProbe(self.window, self.app)

    def shutdown(self) -> None:
        self.jobs.shutdown()
        self.crash_handler.uninstall()
