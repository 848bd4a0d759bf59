"""A web page that asks :mod:`llama_wrangler.services.web_policy` about every navigation, including
``target=_blank`` windows, and never lets Qt hand a link to the desktop by itself."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile

from llama_wrangler.services.web_policy import Decision, Verdict

log = logging.getLogger(__name__)

Decide = Callable[[str, bool], Decision]  # (url, is the main frame) -> decision
NavType = QWebEnginePage.NavigationType
# Only what the user did may open the system browser; a page cannot send the user elsewhere by script.
_USER_NAVIGATIONS = (NavType.NavigationTypeLinkClicked, NavType.NavigationTypeTyped,
                     NavType.NavigationTypeFormSubmitted)


class GuardedPage(QWebEnginePage):
    """Signals:
        captured(str): a model file or another app's link, as a reference to get with our job.
        external_requested(QUrl): a page that belongs in the system browser.
        refused(str): a navigation that was stopped, and why.
        main_frame_decided(object): the Decision for a main-frame navigation that goes ahead (emitted
            before the new document exists, so the bridge can be set up or taken away first).
    """

    captured = Signal(str)
    external_requested = Signal(QUrl)
    refused = Signal(str)
    main_frame_decided = Signal(object)

    def __init__(self, profile: QWebEngineProfile, decide: Decide, parent: QObject | None = None) -> None:
        super().__init__(profile, parent)
        self._decide = decide

    def acceptNavigationRequest(self, url: QUrl | str, nav_type: QWebEnginePage.NavigationType,  # noqa: N802
                                is_main_frame: bool) -> bool:
        text = url.toString() if isinstance(url, QUrl) else str(url)
        return self.route(text, nav_type, is_main_frame)

    def route(self, text: str, nav_type: QWebEnginePage.NavigationType, is_main_frame: bool) -> bool:
        """True when the page itself may load ``text``; everything else is handled here."""
        decision = self._decide(text, is_main_frame)
        verdict = decision.verdict
        if verdict in (Verdict.TRUSTED, Verdict.ALLOWED):
            if is_main_frame:
                self.main_frame_decided.emit(decision)
            return True
        if verdict in (Verdict.CAPTURE, Verdict.APP_LINK) and decision.reference:
            log.info("captured %s as %s", text, decision.reference)
            self.captured.emit(decision.reference)
        elif verdict == Verdict.EXTERNAL and nav_type in (*_USER_NAVIGATIONS, None):
            self.external_requested.emit(QUrl(text))
        else:
            log.info("refused %s (%s)", text, decision.reason)
            self.refused.emit(f"Not opened: {text[:120]} ({decision.reason or 'not allowed here'}).")
        return False

    def createWindow(self, _type: QWebEnginePage.WebWindowType) -> QWebEnginePage:  # noqa: N802
        # target=_blank and window.open(): a throwaway page whose first navigation obeys the same rule, then
        # loads here (our sites) or goes outside (the rest). It never shows a window of its own.
        return _PopupCatcher(self)


class _PopupCatcher(QWebEnginePage):
    def __init__(self, owner: GuardedPage) -> None:
        super().__init__(owner.profile(), owner)
        self._owner = owner
        self._done = False

    def acceptNavigationRequest(self, url: QUrl | str, nav_type: QWebEnginePage.NavigationType,  # noqa: N802
                                is_main_frame: bool) -> bool:
        if not is_main_frame or self._done:
            return False
        self._done = True
        target = url if isinstance(url, QUrl) else QUrl(url)
        # A new window always comes from a click or a script: treat it as a link click on the owner.
        if self._owner.route(target.toString(), NavType.NavigationTypeLinkClicked, True):
            self._owner.setUrl(target)
        self.deleteLater()
        return False
