"""The Hugging Face, Ollama and Chat pages of the sidebar, built on first show (QtWebEngine is imported
then, not at start-up), and everything they share: one profile, the bridge's state feed, the get flow."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QWidget

from llama_wrangler.errors import WranglerError
from llama_wrangler.paths import AppPaths
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.endpoint import EndpointService
from llama_wrangler.services.hub_actions import HubActions
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.model_actions import ModelActions
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.services.web_policy import HF_RESERVED, BrowsePolicy, Decision, Site
from llama_wrangler.services.web_state import PageStateFeed
from llama_wrangler.sources.hf_input import HUB_LINK
from llama_wrangler.ui.main_window import MainWindow
from llama_wrangler.ui.web.lazy import LazyPage
from llama_wrangler.workers.jobs import JobManager

if TYPE_CHECKING:
    from PySide6.QtWebEngineCore import QWebEngineDownloadRequest, QWebEngineProfile

    from llama_wrangler.services.page_requests import Proposal
    from llama_wrangler.ui.web.browser import BrowserTab
    from llama_wrangler.ui.web.chat import ChatPage
    from llama_wrangler.ui.web.get_flow import GetFlow

log = logging.getLogger(__name__)

PAGE_KEYS = {Site.HF: "huggingface", Site.OLLAMA: "ollama"}
PAGE_TITLES = {Site.HF: "Hugging Face", Site.OLLAMA: "Ollama"}


class WebPages(QObject):
    """Adds the browser and chat pages to ``window`` and serves them."""

    def __init__(self, window: MainWindow, paths: AppPaths, settings: SettingsStore, hub: HubActions,
                 actions: ModelActions, jobs: JobManager, supervisor: ServerFleet, endpoint: EndpointService,
                 messenger: Messenger, open_picker: Callable[[str], QDialog]) -> None:
        super().__init__(window)
        self._window = window
        self._paths = paths
        self._settings = settings
        self._hub = hub
        self._actions = actions
        self._supervisor = supervisor
        self._endpoint = endpoint
        self._messenger = messenger
        self._open_picker = open_picker
        self.feed = PageStateFeed(actions.models, jobs, self)
        self._profile: QWebEngineProfile | None = None
        self._flow: GetFlow | None = None
        self.tabs: dict[Site, BrowserTab] = {}
        self.chat: ChatPage | None = None
        self._lazy: dict[str, LazyPage] = {}
        self._pending: dict[Site, str] = {}
        actions.library_changed.connect(self.feed.refresh_library)

    def install(self) -> None:
        for site in (Site.HF, Site.OLLAMA):
            lazy = LazyPage(functools.partial(self._build_tab, site))
            self._lazy[PAGE_KEYS[site]] = lazy
            self._window.add_page(PAGE_KEYS[site], PAGE_TITLES[site], f"nav-{site.value}", lazy)
        chat = LazyPage(self._build_chat)
        self._lazy["chat"] = chat
        self._window.add_page("chat", "Chat", "nav-chat", chat)

    @property
    def policy(self) -> BrowsePolicy:
        return BrowsePolicy.from_settings(self._settings.settings)

    def _decide(self, url: str, main_frame: bool) -> Decision:
        return self.policy.decide(url, main_frame=main_frame)

    # -- shared parts (built with the first web page) ----------------------------------------------------
    def _shared(self) -> tuple[QWebEngineProfile, GetFlow]:
        if self._profile is None or self._flow is None:
            from llama_wrangler.ui.web.get_flow import GetFlow
            from llama_wrangler.ui.web.profile import make_profile

            self._profile = make_profile(self._paths)
            self._profile.downloadRequested.connect(self._on_download_requested)
            self._flow = GetFlow(self._window, self._hub, self._messenger, self._open_picker)
        return self._profile, self._flow

    def _build_tab(self, site: Site) -> QWidget:
        from llama_wrangler.ui.web.bridge import BridgeInstaller, PageBridge
        from llama_wrangler.ui.web.browser import BrowserTab

        profile, flow = self._shared()
        tab = BrowserTab(profile, self._decide, self.policy.home(site), name=site.value)
        # The policy is read again on every call: the endpoints may change in the settings while the app runs.
        bridge = PageBridge(tab.page, lambda: self.policy, self.feed.state_json, self._on_proposal, self._on_serve,
                            flow.get_reference, self._messenger.warning)
        installer = BridgeInstaller(tab.page, bridge)
        tab.page.main_frame_decided.connect(installer.follow)
        tab.page.captured.connect(flow.get_reference)
        tab.page.external_requested.connect(self._open_outside)
        tab.page.refused.connect(self._messenger.info)
        self.feed.changed.connect(bridge.state_changed)
        tab.bridge = bridge  # type: ignore[attr-defined]
        tab.installer = installer  # type: ignore[attr-defined]
        self.tabs[site] = tab
        tab.open(self._pending.pop(site, tab.home))
        return tab

    def _build_chat(self) -> QWidget:
        from llama_wrangler.ui.web.chat import ChatPage

        profile, _flow = self._shared()
        chat = ChatPage(profile)
        chat.serve_requested.connect(self._actions.serve)
        chat.page.external_requested.connect(self._open_outside)
        self._actions.library_changed.connect(self._refresh_chat)
        self._supervisor.state_changed.connect(self._refresh_chat)
        self._supervisor.endpoint_changed.connect(self._refresh_chat)
        self.chat = chat
        self._refresh_chat()
        return chat

    # -- public ------------------------------------------------------------------------------------------
    def open_url(self, url: str) -> None:
        """Show ``url`` (checked: a trusted page or a model link) in its tab; anything else is refused."""
        try:
            target = self.policy.open_target(url)
        except WranglerError as exc:
            self._messenger.warning(str(exc))
            return
        site = self.policy.decide(target).site or Site.HF
        self._window.bring_to_front()
        tab = self.tabs.get(site)
        if tab is None:
            self._pending[site] = target
            self._window.show_page(PAGE_KEYS[site])  # builds the tab, which opens the pending page
            self._lazy[PAGE_KEYS[site]].materialize()
        else:
            self._window.show_page(PAGE_KEYS[site])
            tab.open(target)

    def tab(self, site: Site) -> BrowserTab:
        """The tab of ``site``, built if it was not yet."""
        self._lazy[PAGE_KEYS[site]].materialize()
        return self.tabs[site]

    def chat_page(self) -> ChatPage:
        self._lazy["chat"].materialize()
        assert self.chat is not None
        return self.chat

    @property
    def flow(self) -> GetFlow:
        return self._shared()[1]

    def close(self) -> None:
        """Pages go before the profile (Qt warns and may crash the other way round)."""
        for tab in self.tabs.values():
            tab.page.deleteLater()
        if self.chat is not None:
            self.chat.page.deleteLater()
        if self._profile is not None:
            self._profile.deleteLater()
            self._profile = None

    # -- slots -------------------------------------------------------------------------------------------
    def _on_proposal(self, proposal: Proposal) -> None:
        self.flow.propose(proposal)

    def _on_serve(self, model_id: str) -> bool:
        if self._actions.find(model_id) is None:
            return False
        self._actions.serve(model_id)
        return True

    def _open_outside(self, url: QUrl) -> None:
        if not QDesktopServices.openUrl(url):
            self._messenger.warning(f"Could not open a web browser for {url.toString()}")

    def _on_download_requested(self, download: object) -> None:
        # The browser's own downloads are never kept: a model file becomes our resumable, verified job,
        # anything else is refused.
        # (Typed as object: PySide resolves a slot's annotations, and this module must not import the web
        # engine at start-up.)
        download = cast("QWebEngineDownloadRequest", download)
        url = download.url().toString()
        name = download.downloadFileName()
        page = download.page()
        page_url = page.url().toString() if page is not None else ""
        download.cancel()
        decision = self.policy.decide(url)
        reference = decision.reference or self.policy.decide(page_url).reference
        if reference is not None:
            self.flow.get_reference(reference)
            return
        if page_url and self._is_gguf_page(page_url):
            # A file page's own download button: that file, at that revision (the strict parser reads it).
            self.flow.get_reference(HUB_LINK + urlsplit(page_url).path)
            return
        repo = self._repo_of(page_url)
        if repo is not None and name.lower().endswith(".gguf"):
            # A model file that came through redirects (the CDN): which file of the repo it was is not known
            # for sure, so the quant picker opens on the repo the page shows.
            self.flow.get_reference(f"hf:{repo}")
            return
        self._messenger.warning(f"Only model files are downloaded here; {name} was not saved.")

    def _repo_of(self, page_url: str) -> str | None:
        if self.policy.trusted_site(page_url) != Site.HF:
            return None
        segments = [s for s in urlsplit(page_url).path.split("/") if s]
        if len(segments) < 2 or segments[0] in HF_RESERVED:
            return None
        return f"{segments[0]}/{segments[1]}"

    def _is_gguf_page(self, url: str) -> bool:
        return self.policy.trusted_site(url) == Site.HF and "/blob/" in url and url.lower().endswith(".gguf")

    def _refresh_chat(self, *_args: object) -> None:
        chat = self.chat
        if chat is None:
            return
        models = [(r.id, r.name) for r in self._actions.models() if not r.missing]
        chat.set_models(models)
        state = self._supervisor.state
        url = self._endpoint.url or self._supervisor.client_endpoint
        serving = self._actions.serving_id()
        record = self._actions.find(serving) if serving else None
        name = record.name if record is not None else serving
        if state == ServerState.READY and url:
            chat.show_served(url, self._settings.settings.server.api_key, name)
        elif state in (ServerState.STARTING, ServerState.LOADING):
            chat.show_nothing_served(f"Loading {name}… the chat opens when it is ready.")
        elif not models:
            chat.show_nothing_served("Your library is empty. Get a model from the Hugging Face or Ollama page, "
                                     "then serve it to chat with it here.")
        else:
            chat.show_nothing_served("No model is being served. Pick one and serve it to chat with it here.")
