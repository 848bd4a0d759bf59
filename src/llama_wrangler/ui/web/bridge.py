"""The object pages talk to over QWebChannel, and how it is put on a page.

Only trusted pages get it: the channel and our scripts are set on the page in
``QWebEngineScript.ApplicationWorld`` (the site's own scripts live in the main world and cannot see
``qt.webChannelTransport``) and only while the main frame is on a trusted origin. Every call is checked
again here: the page's current origin, then the arguments with the command line's parsers
(:mod:`llama_wrangler.services.page_requests`). The page can propose a download or ask what the library has;
it cannot read files or start anything without the user confirming in a native dialog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QFile, QIODevice, QObject, Signal, Slot
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineScript

from llama_wrangler.errors import WranglerError
from llama_wrangler.services.page_requests import Proposal, parse_proposal
from llama_wrangler.services.web_policy import BrowsePolicy, Decision, Site, Verdict
from llama_wrangler.ui.icons import RESOURCES

log = logging.getLogger(__name__)

WORLD = QWebEngineScript.ScriptWorldId.ApplicationWorld
OBJECT_NAME = "wrangler"
_SCRIPT_NAMES = ("llama-wrangler-qwebchannel", "llama-wrangler-bridge")


class PageBridge(QObject):
    """What JavaScript sees as ``channel.objects.wrangler``: these slots and the one signal, nothing else.

    Signals:
        state_changed(str): library marks and download progress as JSON (see services/web_state.py).
    """

    state_changed = Signal(str)

    def __init__(self, page: QWebEnginePage, policy: Callable[[], BrowsePolicy], state: Callable[[], str],
                 on_proposal: Callable[[Proposal], None], on_serve: Callable[[str], bool],
                 on_app_link: Callable[[str], None], on_refused: Callable[[str], None]) -> None:
        super().__init__(page)
        self._page = page
        self._policy = policy
        self._on_app_link = on_app_link
        self._state = state
        self._on_proposal = on_proposal
        self._on_serve = on_serve
        self._on_refused = on_refused

    def _site(self) -> Site | None:
        return self._policy().trusted_site(self._page.url().toString())

    @Slot(result=str)
    def site(self) -> str:
        site = self._site()
        return site.value if site is not None else ""

    @Slot(result=str)
    def state(self) -> str:
        return self._state() if self._site() is not None else "{}"

    @Slot(str, str, result=bool)
    def propose(self, kind: str, payload: str) -> bool:
        """A "Get with Llama Wrangler" click: checked, then shown to the user to confirm."""
        if self._site() is None:
            log.warning("bridge call from an untrusted page (%s) ignored", self._page.url().toString())
            return False
        try:
            proposal = parse_proposal(kind, payload)
        except WranglerError as exc:
            log.warning("page proposal refused: %s", exc)
            self._on_refused(f"The page asked for a download we refused: {exc}")
            return False
        self._on_proposal(proposal)
        return True

    @Slot(str, result=bool)
    def open_link(self, href: str) -> bool:
        """A click on an ``lmstudio://`` or ``jan://`` link ("Use this model"): our download, never the OS.
        (Chromium drops or hands such schemes to the desktop without asking the page first.)"""
        if self._site() is None or not isinstance(href, str) or len(href) > 1000:
            return False
        decision = self._policy().decide(href)
        if decision.verdict != Verdict.APP_LINK or decision.reference is None:
            return False
        self._on_app_link(decision.reference)
        return True

    @Slot(str, result=bool)
    def serve(self, model_id: str) -> bool:
        """Serve a model that is already in the library (the only kind the page's Serve button names)."""
        if self._site() is None or not isinstance(model_id, str) or len(model_id) > 200:
            return False
        return self._on_serve(model_id)


def _read_text(path: str) -> str:
    file = QFile(path)
    if not file.open(QIODevice.OpenModeFlag.ReadOnly):
        raise RuntimeError(f"cannot read {path}")
    try:
        return bytes(file.readAll().data()).decode("utf-8")
    finally:
        file.close()


def _script(name: str, source: str, point: QWebEngineScript.InjectionPoint) -> QWebEngineScript:
    script = QWebEngineScript()
    script.setName(name)
    script.setSourceCode(source)
    script.setWorldId(WORLD)
    script.setInjectionPoint(point)
    script.setRunsOnSubFrames(False)
    return script


class BridgeInstaller(QObject):
    """Puts the channel and our scripts on ``page`` while its main frame is on a trusted site, and takes
    them off before it goes anywhere else."""

    def __init__(self, page: QWebEnginePage, bridge: PageBridge) -> None:
        super().__init__(page)
        self._page = page
        self._channel = QWebChannel(self)
        self._channel.registerObject(OBJECT_NAME, bridge)
        qwebchannel = _read_text(":/qtwebchannel/qwebchannel.js")
        ours = (RESOURCES / "web_bridge.js").read_text(encoding="utf-8")
        self._scripts = (
            _script(_SCRIPT_NAMES[0], qwebchannel, QWebEngineScript.InjectionPoint.DocumentCreation),
            _script(_SCRIPT_NAMES[1], ours, QWebEngineScript.InjectionPoint.DocumentReady),
        )
        self.installed = False
        page.urlChanged.connect(self._on_url_changed)

    def _on_url_changed(self) -> None:
        # History navigation inside a single-page app changes the URL without a new document.
        if self.installed:
            self._page.runJavaScript("window.__llamaWrangler && window.__llamaWrangler.rescan()", WORLD)

    def follow(self, decision: object) -> None:
        """Slot for :attr:`GuardedPage.main_frame_decided`."""
        trusted = isinstance(decision, Decision) and decision.verdict == Verdict.TRUSTED
        if trusted and not self.installed:
            self._page.setWebChannel(self._channel, WORLD)
            for script in self._scripts:
                self._page.scripts().insert(script)
            self.installed = True
        elif not trusted and self.installed:
            self._page.setWebChannel(None, WORLD)  # type: ignore[arg-type]  # None takes it away (Qt docs)
            for script in self._scripts:
                self._page.scripts().remove(script)
            self.installed = False
