"""The Hugging Face tab with real QtWebEngine: our button on model pages, file rows and file pages; each
click becomes the right job after a native confirmation."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.services.web_policy import Site
from llama_wrangler.ui.add_model_dialog import AddModelDialog
from llama_wrangler.work import JobKind
from tests.support.hf_repos import GGUF_REPO
from tests.unit.ui.web.conftest import Sites, buttons, click_get, load


def _confirm(qtbot: QtBot, wrangler: WranglerApp) -> None:
    flow = wrangler.web.flow
    qtbot.waitUntil(lambda: isinstance(flow.dialog, QMessageBox), timeout=10_000)
    box = flow.dialog
    assert isinstance(box, QMessageBox)
    download = next(b for b in box.buttons() if b.text() == "Download")
    download.click()


def _download_inputs(wrangler: WranglerApp) -> list[str]:
    return [str((job.persist or {}).get("input")) for job in wrangler.jobs.jobs(JobKind.DOWNLOAD)]


def test_model_page_has_buttons_for_the_repo_and_each_gguf_row(qtbot: QtBot, web_app: WranglerApp,
                                                               sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    keys = buttons(qtbot, tab.page)
    assert keys == [f"hf-repo:{GGUF_REPO}", f"hf:{GGUF_REPO}/tiny-Q4_K_M.gguf", f"hf:{GGUF_REPO}/tiny-Q8_0.gguf",
                    f"hf:{GGUF_REPO}/Q2_K/tiny-Q2_K-00001-of-00003.gguf"]  # README.md gets none


def test_repo_button_opens_the_quant_picker_with_the_recommended_quant(qtbot: QtBot, web_app: WranglerApp,
                                                                       sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    click_get(qtbot, tab.page, f"hf-repo:{GGUF_REPO}")
    flow = web_app.web.flow
    qtbot.waitUntil(lambda: isinstance(flow.dialog, AddModelDialog) and flow.dialog.choices.isVisible(),
                    timeout=15_000)
    dialog = flow.dialog
    assert isinstance(dialog, AddModelDialog)
    assert dialog.listing is not None and dialog.listing.repo_id == GGUF_REPO
    recommended = dialog.recommended_item()
    assert recommended is not None and dialog.choices.currentItem() is recommended
    dialog.download_button.click()
    assert len(web_app.jobs.jobs(JobKind.DOWNLOAD)) == 1


def test_file_row_button_downloads_that_file_after_confirmation(qtbot: QtBot, web_app: WranglerApp,
                                                                sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}/tree/main"))
    click_get(qtbot, tab.page, f"hf:{GGUF_REPO}/tiny-Q8_0.gguf")
    assert _download_inputs(web_app) == []  # nothing before the user confirms
    _confirm(qtbot, web_app)
    assert _download_inputs(web_app) == [f"https://huggingface.co/{GGUF_REPO}/blob/main/tiny-Q8_0.gguf"]


def test_file_page_button_pins_the_revision(qtbot: QtBot, web_app: WranglerApp, sites: Sites) -> None:
    commit = sites.published.repo.sha
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}/blob/{commit}/tiny-Q8_0.gguf"))
    assert buttons(qtbot, tab.page) == [f"hf:{GGUF_REPO}/tiny-Q8_0.gguf"]
    click_get(qtbot, tab.page, f"hf:{GGUF_REPO}/tiny-Q8_0.gguf")
    _confirm(qtbot, web_app)
    assert _download_inputs(web_app) == [f"https://huggingface.co/{GGUF_REPO}/blob/{commit}/tiny-Q8_0.gguf"]


def test_split_shard_button_gets_the_whole_set(qtbot: QtBot, web_app: WranglerApp, sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    click_get(qtbot, tab.page, f"hf:{GGUF_REPO}/Q2_K/tiny-Q2_K-00001-of-00003.gguf")
    _confirm(qtbot, web_app)
    (job,) = web_app.jobs.jobs(JobKind.DOWNLOAD)
    qtbot.waitUntil(lambda: job.is_final, timeout=30_000)
    assert job.error is None
    record = job.result
    assert len(record.paths) == 3  # type: ignore[attr-defined]


def test_the_tab_shows_in_the_window_and_renders_the_page(qtbot: QtBot, web_app: WranglerApp,
                                                          sites: Sites) -> None:
    # A visible web view inside the real window (an application-wide Python event filter used to make
    # PySide recurse until the stack overflowed here).
    web_app.window.show_page("huggingface")
    tab = web_app.web.tabs[Site.HF]
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    assert tab.view.isVisible()
    assert tab.address.text() == sites.hf(f"/{GGUF_REPO}")

    def colours() -> int:
        image = tab.view.grab().toImage()
        assert not image.isNull() and image.width() > 100
        return len({image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 5)})

    # The page gets painted (text, our button), not left a blank surface; the first frame may lag the load.
    qtbot.waitUntil(lambda: colours() > 8, timeout=10_000)


def test_a_file_is_offered_with_the_repos_vision_projector(qtbot: QtBot, web_app: WranglerApp,
                                                           sites: Sites) -> None:
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    click_get(qtbot, tab.page, f"hf:{GGUF_REPO}/tiny-Q4_K_M.gguf")
    flow = web_app.web.flow
    qtbot.waitUntil(lambda: isinstance(flow.dialog, QMessageBox) and flow.dialog.checkBox() is not None,
                    timeout=15_000)
    box = flow.dialog
    assert isinstance(box, QMessageBox)
    check = box.checkBox()
    assert check is not None and check.isChecked() and "mmproj-tiny-F16.gguf" in check.text()
    next(b for b in box.buttons() if b.text() == "Download").click()
    inputs = _download_inputs(web_app)
    sha = sites.published.repo.sha
    assert inputs == [f"https://huggingface.co/{GGUF_REPO}/blob/main/tiny-Q4_K_M.gguf",
                      f"https://huggingface.co/{GGUF_REPO}/blob/{sha}/mmproj-tiny-F16.gguf"]


def test_closing_the_app_while_the_picker_looks_a_repo_up_is_clean(qtbot: QtBot, web_app: WranglerApp,
                                                                   sites: Sites) -> None:
    # The teardown deletes the window (and the dialog) while the lookup job still runs: its late signals
    # must not reach deleted widgets (pytest-qt fails the test on any exception in the event loop).
    tab = web_app.web.tab(Site.HF)
    load(qtbot, tab.page, sites.hf(f"/{GGUF_REPO}"))
    click_get(qtbot, tab.page, f"hf-repo:{GGUF_REPO}")
    qtbot.waitUntil(lambda: isinstance(web_app.web.flow.dialog, AddModelDialog), timeout=10_000)
