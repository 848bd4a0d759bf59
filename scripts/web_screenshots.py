"""The browser pages for scripts/screenshots.py: the Hugging Face tab on a loopback hub serving pages shaped
like the hub's (model page, file tree, file page), the Ollama tab (library and tag pages), the confirmation a
"Get with Llama Wrangler" click opens, and the Chat page with nothing served."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineScript
from PySide6.QtWidgets import QWidget
from tests.support.fake_hub import FakeHub
from tests.support.fake_sites import (
    PageServer,
    hf_blob_page,
    hf_model_page,
    hf_tree_page,
    ollama_library_page,
    ollama_tag_page,
)
from tests.support.hf_repos import GGUF_REPO
from tests.support.loopback import Fault

from llama_wrangler.app import WranglerApp
from llama_wrangler.services.web_policy import Site
from llama_wrangler.settings import Theme

FILES = ("tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf", "Q2_K/tiny-Q2_K-00001-of-00003.gguf", "README.md")
Shoot = Callable[[QWidget, str], None]
WaitFor = Callable[[Callable[[], bool], float], bool]


def shoot_web_pages(wrangler: WranglerApp, hub: FakeHub, commit: str, shoot: Shoot, wait_for: WaitFor) -> None:
    hub.add_page(f"/{GGUF_REPO}", hf_model_page(GGUF_REPO, FILES))
    hub.add_page(f"/{GGUF_REPO}/tree/main", hf_tree_page(GGUF_REPO, "main", FILES))
    hub.add_page(f"/{GGUF_REPO}/blob/{commit}/tiny-Q8_0.gguf", hf_blob_page(GGUF_REPO, commit, "tiny-Q8_0.gguf"))
    window = wrangler.window
    with PageServer() as ollama:
        ollama.pages["/library/tinyllama"] = ollama_library_page("tinyllama", ["1.1b", "1.1b-q8_0"])
        ollama.pages["/library/tinyllama:1.1b"] = ollama_tag_page("tinyllama", "1.1b")
        current = wrangler.settings.settings
        downloads = current.downloads.model_copy(update={"ollama_site": ollama.url})
        wrangler.settings.update(current.model_copy(update={"downloads": downloads}))

        def visit(site: Site, url: str) -> QWebEnginePage:
            window.show_page("huggingface" if site == Site.HF else "ollama")
            tab = wrangler.web.tab(site)
            done: list[bool] = []
            tab.page.loadFinished.connect(done.append)
            tab.open(url)
            wait_for(lambda: bool(done), 20)
            tab.page.loadFinished.disconnect(done.append)
            ready: list[object] = []

            def ask() -> bool:
                tab.page.runJavaScript("document.documentElement.getAttribute('data-llama-wrangler-ready')",
                                       QWebEngineScript.ScriptWorldId.ApplicationWorld, ready.append)
                wait_for(lambda: bool(ready), 5)
                return ready.pop() == "1" if ready else False

            wait_for(ask, 15)
            return tab.page

        hf = hub.endpoint
        for theme in (Theme.LIGHT, Theme.DARK):
            wrangler.theme.apply(theme)
            for width, height in ((1280, 800), (1024, 640)):
                window.resize(width, height)
                visit(Site.HF, f"{hf}/{GGUF_REPO}")
                shoot(window, f"web-hf-model-{width}x{height}-{theme.value}")
        wrangler.theme.apply(Theme.LIGHT)
        window.resize(1280, 800)
        visit(Site.HF, f"{hf}/{GGUF_REPO}/tree/main")
        shoot(window, "web-hf-tree-1280x800-light")
        page = visit(Site.HF, f"{hf}/{GGUF_REPO}/blob/{commit}/tiny-Q8_0.gguf")
        shoot(window, "web-hf-file-1280x800-light")
        page.runJavaScript("document.querySelector('[data-llama-wrangler=get]').click()",
                           QWebEngineScript.ScriptWorldId.ApplicationWorld)
        flow = wrangler.web.flow
        wait_for(lambda: flow.dialog is not None, 10)
        if flow.dialog is not None:
            shoot(flow.dialog, "web-confirm-file")
            flow.dialog.reject()
        # The repo's own button: the quant picker, recommended quant marked.
        page = visit(Site.HF, f"{hf}/{GGUF_REPO}")
        page.runJavaScript("document.querySelector('[data-llama-wrangler=get]').click()",
                           QWebEngineScript.ScriptWorldId.ApplicationWorld)
        wait_for(lambda: flow.dialog is not None and flow.dialog.isVisible(), 10)
        picker = flow.dialog
        if picker is not None:
            wait_for(lambda: picker.choices.isVisible(), 15)  # type: ignore[attr-defined]
            shoot(picker, "web-picker-from-page")
            picker.reject()
        # A download in progress, then the same file in the library.
        hub.add_fault("tiny-Q4_K_M.gguf", Fault.slow(16_000))
        job = wrangler.hub.pull(f"https://huggingface.co/{GGUF_REPO}/blob/main/tiny-Q4_K_M.gguf")
        wait_for(lambda: job.last_progress is not None and (job.last_progress.fraction or 0) > 0.3, 20)
        page = visit(Site.HF, f"{hf}/{GGUF_REPO}")
        wait_for(lambda: False, 1)  # the next state push (at most 0.4 s)
        shoot(window, "web-hf-downloading-1280x800-light")
        wait_for(lambda: job.is_final, 30)
        wait_for(lambda: False, 1)
        shoot(window, "web-hf-in-library-1280x800-light")
        visit(Site.OLLAMA, f"{ollama.url}/library/tinyllama")
        shoot(window, "web-ollama-library-1280x800-light")
        visit(Site.OLLAMA, f"{ollama.url}/library/tinyllama:1.1b")
        shoot(window, "web-ollama-tag-1280x800-light")
        for theme in (Theme.LIGHT, Theme.DARK):
            wrangler.theme.apply(theme)
            window.show_page("chat")
            shoot(window, f"web-chat-empty-1280x800-{theme.value}")
        wrangler.theme.apply(Theme.LIGHT)


def out_names(out: Path) -> list[Path]:
    return sorted(out.glob("web-*.png"))
