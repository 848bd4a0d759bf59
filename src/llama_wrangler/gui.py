"""Starting the window: check that Qt can open one at all, set up logging, run the event loop.

Kept apart from the composition root (:mod:`llama_wrangler.app`) so the platform check runs before any Qt
module is imported: on a minimal Linux install importing QtGui already fails without libEGL, and a
missing xcb library aborts in C++ — both are explained here instead.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from llama_wrangler import APP_NAME, __version__
from llama_wrangler.paths import AppPaths
from llama_wrangler.platform_check import platform_problem

log = logging.getLogger("llama_wrangler")

# Set by bench/startup.py: print a timestamp when the main window is first exposed, then the idle RSS,
# then quit. Read when the app starts (never at import time).
STARTUP_PROBE_ENV = "LLAMA_WRANGLER_STARTUP_PROBE"
# The app bundle's check of its QtWebEngine (see ui/webengine_selftest.py). Its name is kept here so the
# window's code is imported only when it is set.
SELFTEST_ENV = "LLAMA_WRANGLER_WEBENGINE_SELFTEST"


def configure_logging(log_file: Path) -> None:
    """Rotating app log (a few MB); the crash dialog points users at this file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_gui(argv: list[str] | None = None, *, open_url: str = "") -> int:
    """Start the window (on ``open_url``, a Hugging Face or Ollama page, when given), or hand the URL to the
    app already running for this data folder and return."""
    problem = platform_problem(os.environ)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    paths = AppPaths.from_environment().ensure()
    configure_logging(paths.app_log_file)
    log.info("%s %s starting", APP_NAME, __version__)

    # Qt is imported only now: the check above must come first, and `llama-wrangler <command>` never
    # pays for widgets.
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    from llama_wrangler.services.single_instance import InstanceServer, hand_over

    # QtWebEngine (loaded later, with the first browser tab) shares OpenGL contexts with the window.
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    selftest_url = os.environ.get(SELFTEST_ENV, "")  # the app bundle's test of its QtWebEngine
    if selftest_url:
        from llama_wrangler.ui.webengine_selftest import prepare

        prepare()
    app = QApplication(argv if argv is not None else sys.argv[:1])
    if hand_over(paths, open_url):
        print(f"{APP_NAME} is already running; " + ("opened the page there." if open_url else "showed its window."))
        return 0
    instance = InstanceServer(paths)
    instance.listen()

    from llama_wrangler.app import WranglerApp
    from llama_wrangler.services.stop_signals import StopSignals

    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("llama-wrangler")
    probe = os.environ.get(STARTUP_PROBE_ENV, "")
    wrangler = WranglerApp(app, paths, startup_probe=bool(probe), probe_web=probe == "web")
    wrangler.start()
    instance.url_received.connect(wrangler.open_url)
    if open_url:
        wrangler.open_url(open_url)
    if selftest_url:
        from llama_wrangler.ui.webengine_selftest import WebEngineSelfTest

        selftest = WebEngineSelfTest(selftest_url, wrangler.window)
    stop = StopSignals(app.quit)  # Ctrl-C in the terminal that started the app quits it cleanly
    try:
        code = app.exec()
    finally:
        stop.remove()
    if selftest_url:
        selftest.close()
    instance.close()
    wrangler.shutdown()
    return code


def run_open(args: list[str]) -> int:
    """``llama-wrangler open URL`` (or a bare ``llama-wrangler://`` link, as the desktop entry passes it):
    the URL is checked first, then opened in the running app or a new one."""
    from llama_wrangler.errors import WranglerError
    from llama_wrangler.services.web_policy import BrowsePolicy
    from llama_wrangler.settings import load_settings

    rest = args[1:] if args[0] == "open" else args
    if len(rest) != 1 or rest[0] in ("-h", "--help"):
        print("usage: llama-wrangler open URL\n\nOpen the app on a Hugging Face or Ollama page (or a "
              "llama-wrangler:// link).", file=sys.stderr)
        return 2
    settings = load_settings(AppPaths.from_environment().settings_file).settings
    try:
        target = BrowsePolicy.from_settings(settings).open_target(rest[0])
    except WranglerError as exc:
        print(f"llama-wrangler: error: {exc}", file=sys.stderr)
        return 1
    return run_gui(open_url=target)
