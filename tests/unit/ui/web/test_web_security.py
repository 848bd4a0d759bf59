"""What the bridge refuses, with real QtWebEngine: main-world scripts, untrusted origins, hostile arguments,
off-allowlist links, new windows, other apps' links and the browser's own downloads."""

from __future__ import annotations

import json

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.services.web_policy import Decision, Site, Verdict, WebOrigin
from llama_wrangler.ui.add_model_dialog import AddModelDialog
from llama_wrangler.ui.web.bridge import BridgeInstaller, PageBridge
from llama_wrangler.ui.web.browser import BrowserTab
from llama_wrangler.work import JobKind
from tests.support.desktop import UrlCatcher
from tests.support.fake_sites import PageServer, hf_model_page
from tests.support.hf_repos import GGUF_REPO
from tests.unit.ui.web.conftest import (
    HF_FILES,
    MAIN_WORLD,
    Sites,
    buttons,
    load,
    run_js,
    wait_js,
)

HOSTILE = [
    ("hf-file", {"repo": "../etc", "revision": "main", "path": "x.gguf"}),
    ("hf-file", {"repo": GGUF_REPO, "revision": "main", "path": "../../outside.gguf"}),
    ("hf-file", {"repo": GGUF_REPO, "revision": "main", "path": "/etc/passwd.gguf"}),
    ("hf-file", {"repo": GGUF_REPO, "revision": "..", "path": "tiny-Q8_0.gguf"}),
    ("hf-file", {"repo": GGUF_REPO, "revision": "main", "path": "a\\..\\b.gguf"}),
    ("hf-file", {"repo": GGUF_REPO, "revision": "main", "path": "tiny.gguf%2F..%2F..%2Fx"}),
    ("hf-file", {"repo": GGUF_REPO, "revision": "main", "path": "run.sh"}),
    ("hf-file", {"repo": GGUF_REPO, "revision": "main", "path": 5}),
    ("hf-repo", {"repo": "org/repo/../../x"}),
    ("hf-repo", {"repo": "org/repo:Q4_K_M"}),
    ("ollama", {"name": "../../etc/passwd:latest"}),
    ("ollama", {"name": "tinyllama:1.1b/../../x"}),
    ("ollama", {"name": "https://evil.example/x:y"}),
    ("shell", {"cmd": "rm -rf /"}),
]


def _jobs(wrangler: WranglerApp) -> int:
    return len(wrangler.jobs.jobs(JobKind.DOWNLOAD))


def test_page_scripts_in_the_main_world_cannot_reach_the_bridge(qtbot: QtBot, web_app: WranglerApp,
                                                                sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    # What the page's own script saw while loading, and what it sees now.
    assert run_js(qtbot, tab.page, "JSON.stringify(window.pageProbe)", MAIN_WORLD) == \
        json.dumps({"qt": "undefined", "wrangler": "undefined"}, separators=(",", ":"))
    assert run_js(qtbot, tab.page, "typeof qt + ' ' + typeof window.__llamaWrangler + ' ' + typeof QWebChannel",
                  MAIN_WORLD) == "undefined undefined undefined"
    # Ours has it.
    assert run_js(qtbot, tab.page, "typeof qt.webChannelTransport") == "object"


def test_hostile_arguments_from_a_trusted_page_are_refused(qtbot: QtBot, web_app: WranglerApp,
                                                          sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    for kind, payload in HOSTILE:
        code = f"window.__llamaWrangler.bridge.propose({json.dumps(kind)}, {json.dumps(json.dumps(payload))})"
        run_js(qtbot, tab.page, code + "; 1")
    # And a call that is not even JSON, and a serve of a model that is not in the library.
    run_js(qtbot, tab.page, "window.__llamaWrangler.bridge.propose('hf-file', '{not json'); 1")
    results: list[bool] = []
    assert tab.bridge.serve("not-a-model") is False  # type: ignore[attr-defined]
    for kind, payload in HOSTILE:
        results.append(tab.bridge.propose(kind, json.dumps(payload)))  # type: ignore[attr-defined]
    qtbot.wait(300)
    assert results == [False] * len(HOSTILE)
    assert web_app.web.flow.dialog is None  # no confirmation was even offered
    assert _jobs(web_app) == 0


def test_an_untrusted_origin_gets_no_transport_and_its_calls_do_nothing(qtbot: QtBot, web_app: WranglerApp,
                                                                       sites: Sites) -> None:
    # A page the policy lets load but does not trust (what Hugging Face's CDN is): a tab whose rule allows
    # one more loopback site without trusting it.
    with PageServer() as other:
        other.pages["/page"] = hf_model_page(GGUF_REPO, HF_FILES)
        other_origin = WebOrigin.of(other.url)
        policy = web_app.web.policy

        def decide(url: str, main_frame: bool) -> Decision:
            if WebOrigin.of(url) == other_origin:
                return Decision(Verdict.ALLOWED, reason="test: allowed, not trusted")
            return policy.decide(url, main_frame=main_frame)

        profile = web_app.web._shared()[0]
        tab = BrowserTab(profile, decide, other.url + "/page", name="test")
        proposals: list[object] = []
        bridge = PageBridge(tab.page, lambda: policy, lambda: "{}", proposals.append, lambda _id: True,
                            proposals.append, lambda _m: None)
        installer = BridgeInstaller(tab.page, bridge)
        tab.page.main_frame_decided.connect(installer.follow)
        try:
            # First a trusted page (the bridge is set), then the untrusted one (it must be taken away).
            load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
            assert installer.installed
            with qtbot.waitSignal(tab.page.loadFinished, timeout=20_000):
                tab.open(other.url + "/page")
            assert tab.view.url().toString() == other.url + "/page"
            assert not installer.installed
            assert run_js(qtbot, tab.page, "typeof qt") == "undefined"
            assert run_js(qtbot, tab.page, "typeof window.__llamaWrangler") == "undefined"
            assert buttons(qtbot, tab.page) == []
            # Even a direct call (as if a transport had leaked) is ignored: the page's origin is checked.
            payload = json.dumps({"repo": GGUF_REPO, "revision": "main", "path": "tiny-Q8_0.gguf"})
            assert bridge.propose("hf-file", payload) is False
            assert bridge.state() == "{}" and bridge.site() == ""
            assert proposals == []
        finally:
            tab.page.deleteLater()
            tab.deleteLater()


def test_off_allowlist_links_do_not_load_and_go_to_the_system_browser(qtbot: QtBot, web_app: WranglerApp,
                                                                     sites: Sites, desktop: UrlCatcher) -> None:
    tab = web_app.web.tab(Site.HF)
    page_url = sites.hf(f"/{GGUF_REPO}")
    load(qtbot, tab.page, page_url)
    run_js(qtbot, tab.page, "document.getElementById('offsite').click(); 1")
    qtbot.waitUntil(lambda: "http://127.0.0.1:9/elsewhere" in desktop.urls, timeout=10_000)
    run_js(qtbot, tab.page, "document.getElementById('blank').click(); 1")
    qtbot.waitUntil(lambda: "http://127.0.0.1:9/blank" in desktop.urls, timeout=10_000)
    qtbot.wait(300)
    assert tab.view.url().toString() == page_url
    # A script-driven navigation to another site does not load here either.
    run_js(qtbot, tab.page, "location.href = 'http://127.0.0.1:9/scripted'; 1", MAIN_WORLD)
    qtbot.waitUntil(lambda: "http://127.0.0.1:9/scripted" in desktop.urls, timeout=10_000)
    assert tab.view.url().toString() == page_url
    # Typed addresses follow the same rule.
    tab.address.setText("file:///etc/passwd")
    tab.address.returnPressed.emit()
    qtbot.wait(300)
    assert tab.view.url().toString() == page_url


def test_other_apps_links_become_our_jobs_and_never_reach_the_os(qtbot: QtBot, web_app: WranglerApp,
                                                                sites: Sites, desktop: UrlCatcher) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    run_js(qtbot, tab.page, "document.getElementById('jan').click(); 1", MAIN_WORLD)
    flow = web_app.web.flow
    qtbot.waitUntil(lambda: flow.dialog is not None, timeout=10_000)
    assert flow.dialog is not None and flow.dialog.objectName() == "addModelDialog"
    flow.dialog.reject()
    # lmstudio:// with a file: a confirm dialog for that file.
    run_js(qtbot, tab.page, f"""(() => {{ const a = document.getElementById('lmstudio');
        a.href = 'lmstudio://open_from_hf?model={GGUF_REPO}&file=tiny-Q8_0.gguf'; a.click(); return 1; }})()""",
           MAIN_WORLD)
    qtbot.waitUntil(lambda: isinstance(flow.dialog, QMessageBox), timeout=10_000)
    box = flow.dialog
    assert isinstance(box, QMessageBox)
    next(b for b in box.buttons() if b.text() == "Download").click()
    qtbot.waitUntil(lambda: _jobs(web_app) == 1, timeout=5_000)
    assert [u for u in desktop.urls if not u.startswith("http")] == []


def test_resolve_link_click_is_captured_as_our_download(qtbot: QtBot, web_app: WranglerApp, sites: Sites,
                                                       desktop: UrlCatcher) -> None:
    tab = web_app.web.tab(Site.HF)
    page_url = sites.hf(f"/{GGUF_REPO}")
    load(qtbot, tab.page, page_url)
    # A plain click on the site's own download link for a .gguf (?download=true), not our button.
    run_js(qtbot, tab.page, f"document.querySelector('a[href=\"/{GGUF_REPO}/resolve/main/tiny-Q4_K_M.gguf"
                            "?download=true\"]').click(); 1", MAIN_WORLD)
    flow = web_app.web.flow
    qtbot.waitUntil(lambda: isinstance(flow.dialog, QMessageBox), timeout=10_000)
    assert "tiny-Q4_K_M.gguf" in flow.dialog.text()  # type: ignore[union-attr]
    assert tab.view.url().toString() == page_url
    assert not any("resolve" in path for path in (r.path for r in sites.hub.requests("GET")))


def test_other_raw_files_are_not_downloaded(qtbot: QtBot, web_app: WranglerApp, sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    page_url = sites.hf(f"/{GGUF_REPO}")
    load(qtbot, tab.page, page_url)
    messages: list[str] = []
    web_app.messenger.shown.connect(lambda _level, text, _details: messages.append(text))
    run_js(qtbot, tab.page, f"location.href = '/{GGUF_REPO}/resolve/main/README.md?download=true'; 1", MAIN_WORLD)
    qtbot.waitUntil(lambda: any("only model files" in m for m in messages), timeout=10_000)
    assert tab.view.url().toString() == page_url
    assert not any("README" in r.path for r in sites.hub.requests())


def test_single_page_navigation_rescans(qtbot: QtBot, web_app: WranglerApp, sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}/tree/main"))
    # The site's script swaps the content and the URL without a new document, as the real site does.
    run_js(qtbot, tab.page, f"""history.pushState({{}}, '', '/{GGUF_REPO}');
        const row = document.createElement('a'); row.href = '/{GGUF_REPO}/blob/main/late-Q5_K_M.gguf';
        row.textContent = 'late'; document.querySelector('main').append(row); 1""", MAIN_WORLD)
    wait_js(qtbot, tab.page, "document.querySelectorAll('[data-llama-wrangler=group]').length >= 5")
    keys = buttons(qtbot, tab.page)
    assert f"hf-repo:{GGUF_REPO}" in keys and f"hf:{GGUF_REPO}/late-Q5_K_M.gguf" in keys


def test_the_browsers_own_downloads_are_rerouted_or_refused(qtbot: QtBot, web_app: WranglerApp,
                                                           sites: Sites) -> None:
    sites.hub.add_page("/notes.txt", "plain text")
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    messages: list[str] = []
    web_app.messenger.shown.connect(lambda _level, text, _details: messages.append(text))
    # Something that is not a model: refused, nothing saved.
    tab.page.download(QUrl(sites.hf("/notes.txt")), "notes.txt")
    qtbot.waitUntil(lambda: any("Only model files" in m for m in messages), timeout=10_000)
    assert not any(web_app.paths.downloads_dir.glob("notes*"))
    # A model file the browser was asked to save (it reaches the browser from the CDN, after redirects):
    # cancelled there, and the quant picker opens on the page's repo instead.
    tab.page.download(QUrl(sites.hf(f"/{GGUF_REPO}/resolve/main/tiny-Q8_0.gguf")), "tiny-Q8_0.gguf")
    flow = web_app.web.flow
    qtbot.waitUntil(lambda: isinstance(flow.dialog, AddModelDialog), timeout=10_000)
    assert flow.dialog.input.text() == f"hf:{GGUF_REPO}"  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: flow.dialog.choices.isVisible(), timeout=15_000)  # type: ignore[union-attr]
    flow.dialog.reject()  # type: ignore[union-attr]
    assert not any(web_app.paths.downloads_dir.glob("tiny*"))
    assert web_app.jobs.jobs(JobKind.DOWNLOAD) == []
