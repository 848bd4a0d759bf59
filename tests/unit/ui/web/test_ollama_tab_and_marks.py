"""The Ollama tab (library and tag pages), and what the pages show for models already in the library."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.services.web_policy import Site
from llama_wrangler.work import JobKind
from tests.support.hf_repos import GGUF_REPO
from tests.support.loopback import Fault
from tests.unit.ui.web.conftest import Sites, buttons, click_get, load, run_js, wait_js


def test_ollama_library_page_has_buttons_by_run_command_and_tag_links(qtbot: QtBot, web_app: WranglerApp,
                                                                      sites: Sites) -> None:
    tab = web_app.web.tab(Site.OLLAMA)
    load(qtbot, tab.page, f"{sites.ollama.url}/library/tinyllama")
    # Next to the "ollama run" command, and next to each tag link.
    assert buttons(qtbot, tab.page) == ["ollama:library/tinyllama:1.1b", "ollama:library/tinyllama:1.1b",
                                        "ollama:library/tinyllama:1.1b-q8_0"]
    click_get(qtbot, tab.page, "ollama:library/tinyllama:1.1b-q8_0")
    flow = web_app.web.flow
    qtbot.waitUntil(lambda: isinstance(flow.dialog, QMessageBox), timeout=10_000)
    box = flow.dialog
    assert isinstance(box, QMessageBox) and "tinyllama:1.1b-q8_0" in box.text()
    next(b for b in box.buttons() if b.text() == "Download").click()
    inputs = [str((j.persist or {}).get("input")) for j in web_app.jobs.jobs(JobKind.DOWNLOAD)]
    assert inputs == ["ollama:tinyllama:1.1b-q8_0"]


def test_ollama_tag_page_has_one_button_for_the_tag(qtbot: QtBot, web_app: WranglerApp, sites: Sites) -> None:
    tab = web_app.web.tab(Site.OLLAMA)
    load(qtbot, tab.page, f"{sites.ollama.url}/library/tinyllama:1.1b")
    # The page's own button, and the one by its "ollama run" command.
    assert buttons(qtbot, tab.page) == ["ollama:library/tinyllama:1.1b", "ollama:library/tinyllama:1.1b"]


def test_files_in_the_library_are_marked_with_a_serve_button(qtbot: QtBot, web_app: WranglerApp,
                                                             sites: Sites) -> None:
    job = web_app.hub.pull(f"https://huggingface.co/{GGUF_REPO}/blob/main/tiny-Q8_0.gguf")
    qtbot.waitUntil(lambda: job.is_final, timeout=30_000)
    assert job.error is None
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    key = f"hf:{GGUF_REPO}/tiny-Q8_0.gguf"
    box = f"Array.from(document.querySelectorAll('[data-llama-wrangler=group]')).find(b => b.dataset.lwKey === '{key}')"
    wait_js(qtbot, tab.page, f"{box}.textContent.includes('In library')")
    serve = f"{box}.querySelector('[data-llama-wrangler=serve]')"
    assert run_js(qtbot, tab.page, f"{serve}.style.display") == "inline-block"
    assert run_js(qtbot, tab.page, f"{box}.querySelector('[data-llama-wrangler=get]').style.display") == "none"
    other = f"hf:{GGUF_REPO}/tiny-Q4_K_M.gguf"
    other_box = box.replace(key, other)
    assert run_js(qtbot, tab.page, f"{other_box}.textContent.includes('In library')") is False
    # Serve from the page: the library's model is what the supervisor is asked to start.
    served: list[str] = []
    web_app.actions.serve = lambda ref: served.append(ref) or True  # type: ignore[method-assign]
    run_js(qtbot, tab.page, f"{box}.querySelector('[data-llama-wrangler=serve]').click(); 1")
    qtbot.waitUntil(lambda: bool(served), timeout=5_000)
    assert served == [job.result.id]  # type: ignore[attr-defined]


def test_a_download_shows_its_progress_in_the_page_then_in_library(qtbot: QtBot, web_app: WranglerApp,
                                                                   sites: Sites) -> None:
    sites.hub.add_fault("tiny-Q8_0.gguf", Fault.slow(25_000))  # ~5 s for its 128 KiB: time to see it
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    key = f"hf:{GGUF_REPO}/tiny-Q8_0.gguf"
    box = ("Array.from(document.querySelectorAll('[data-llama-wrangler=group]'))"
           f".find(b => b.dataset.lwKey === '{key}')")
    job = web_app.hub.pull(f"https://huggingface.co/{GGUF_REPO}/blob/main/tiny-Q8_0.gguf")
    wait_js(qtbot, tab.page, f"/Downloading|Queued/.test({box}.textContent)")
    qtbot.waitUntil(lambda: job.is_final, timeout=30_000)
    assert job.error is None
    wait_js(qtbot, tab.page, f"{box}.textContent.includes('In library')")
