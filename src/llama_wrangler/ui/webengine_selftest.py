"""A self-test of the bundled QtWebEngine, for the app bundle's CI check and for a user's bug report:
with ``LLAMA_WRANGLER_WEBENGINE_SELFTEST=<url>`` the app opens ``url`` in a web view beside its window and
prints ``webengine-selftest: loaded <title>`` (or ``... failed``) on stdout when the page has loaded. The
app keeps running; the caller ends it (SIGTERM quits it cleanly).

QtWebEngine must be imported before the QApplication exists: :func:`prepare` does that.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QUrl
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from PySide6.QtWebEngineWidgets import QWebEngineView

SELFTEST_ENV = "LLAMA_WRANGLER_WEBENGINE_SELFTEST"


def prepare() -> None:
    """Load QtWebEngine before the QApplication is created (it shares OpenGL contexts from the start)."""
    import PySide6.QtWebEngineWidgets  # noqa: F401


class WebEngineSelfTest(QObject):
    def __init__(self, url: str, parent: QWidget) -> None:
        super().__init__(parent)
        from PySide6.QtWebEngineWidgets import QWebEngineView

        view = QWebEngineView()
        view.setWindowTitle("Llama Wrangler web engine self-test")
        view.resize(640, 400)
        view.loadFinished.connect(self._on_loaded)
        view.load(QUrl(url))
        view.show()
        self._view: QWebEngineView | None = view

    def _on_loaded(self, ok: bool) -> None:
        title = self._view.title() if self._view is not None else ""
        if ok:
            print(f"webengine-selftest: loaded {title}", flush=True)
        else:
            print("webengine-selftest: failed", flush=True)
        sys.stdout.flush()

    def close(self) -> None:
        """Delete the view now (not later): the event loop has ended, and a page still alive when
        QtWebEngine's profile goes makes it warn at exit."""
        view, self._view = self._view, None
        if view is not None:
            view.close()
            del view  # Python owns the parentless view: this deletes it
