"""The Add-model dialog and the Downloads page against the loopback Hugging Face hub: inspect off the GUI
thread, the recommended quant marked, a real download job driving its row, cancel and resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.origins import HfOrigin
from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import Settings
from llama_wrangler.ui.add_model_dialog import RECOMMENDED, AddModelDialog
from llama_wrangler.workers.jobs import JobState
from tests.support.fake_hub import FakeHub, Fault
from tests.support.gui import app_session
from tests.support.hf_repos import GGUF_REPO, PublishedGGUF, publish_gguf_repo


@pytest.fixture
def wrangler(qapp: QApplication, app_paths: AppPaths, hub: FakeHub) -> Iterator[WranglerApp]:
    settings = Settings()
    settings.downloads.hf_endpoint = hub.endpoint
    settings.downloads.token_source = "settings"  # type: ignore[assignment]  (never the machine's login)
    yield from app_session(qapp, app_paths, settings)


def _open_dialog(wrangler: WranglerApp, qtbot: QtBot) -> AddModelDialog:
    wrangler.window.add_button.click()
    dialog = wrangler.window.findChild(AddModelDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def _inspect(dialog: AddModelDialog, qtbot: QtBot, text: str) -> None:
    dialog.input.setText(text)
    dialog.inspect_button.click()
    assert "Looking up" in dialog.status.text()
    qtbot.waitUntil(lambda: dialog.choices.isVisible() or dialog.converting
                    or dialog.status.property("fieldError") is True, timeout=15_000)


def test_inspect_lists_quants_with_the_recommended_one_marked(wrangler: WranglerApp, qtbot: QtBot,
                                                              gguf_repo: PublishedGGUF) -> None:
    dialog = _open_dialog(wrangler, qtbot)
    _inspect(dialog, qtbot, f"https://huggingface.co/{GGUF_REPO}")
    quants = [dialog.choices.topLevelItem(i).text(0) for i in range(dialog.choices.topLevelItemCount())]
    assert quants == ["Q2_K (3 files)", "Q4_K_M", "Q8_0", "F16"]
    recommended = dialog.recommended_item()
    assert recommended is not None and recommended.text(3) == RECOMMENDED
    # Tiny files all fit: the largest that fits is recommended, and it is preselected.
    assert recommended.text(0) == "F16"
    assert dialog.choices.currentItem() is recommended
    assert dialog.download_button.isEnabled()


def test_a_bad_reference_or_missing_repo_is_explained(wrangler: WranglerApp, qtbot: QtBot,
                                                      gguf_repo: PublishedGGUF) -> None:
    dialog = _open_dialog(wrangler, qtbot)
    dialog.input.setText("hf:not a repo")
    dialog.inspect_button.click()
    assert "not a model reference" in dialog.status.text()
    _inspect(dialog, qtbot, "org/does-not-exist")
    assert dialog.status.property("fieldError") is True
    assert "org/does-not-exist" in dialog.status.text()
    assert not dialog.download_button.isEnabled()


def test_download_row_follows_a_real_job_through_cancel_and_resume(
        wrangler: WranglerApp, qtbot: QtBot, hub: FakeHub, gguf_repo: PublishedGGUF) -> None:
    hub.add_fault("tiny-Q8_0.gguf", Fault.slow(16_000))  # ~8 s for 128 KB: time to watch and cancel
    dialog = _open_dialog(wrangler, qtbot)
    _inspect(dialog, qtbot, f"hf:{GGUF_REPO}:Q8_0")
    assert dialog.selected_choice() is not None and dialog.selected_choice().quant == "Q8_0"  # type: ignore[union-attr]
    dialog.download_button.click()
    assert not dialog.isVisible()
    assert wrangler.window.current_page_key() == "downloads"

    view = wrangler.downloads_view
    qtbot.waitUntil(lambda: len(view.rows) == 1)
    row = next(iter(view.rows.values()))
    assert row.title.text() == f"{GGUF_REPO} · Q8_0"
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=15_000)
    assert row.cancel_button.isVisible() and not row.retry_button.isVisible()
    assert " of " in row.status.text() and "/s" in row.status.text()

    row.cancel_button.click()
    qtbot.waitUntil(lambda: row.job.state == JobState.CANCELLED, timeout=15_000)
    assert row.retry_button.isVisible() and row.retry_button.text() == "&Resume"
    assert not row.cancel_button.isVisible()
    assert wrangler.library.models() == []

    hub.reset_counters()
    row.retry_button.click()  # the slow fault is used up: the resume runs at full speed
    qtbot.waitUntil(lambda: row.job.state == JobState.DONE, timeout=15_000)
    assert row.status.text().startswith("Done") and row.bar.value() == row.bar.maximum()
    assert row.clear_button.isVisible()
    ranged = [r for r in hub.requests("GET") if r.path.endswith("tiny-Q8_0.gguf") and r.range]
    assert ranged and ranged[0].range != "bytes=0-", "resumed from the partial file, not from scratch"

    qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == 1)
    record = wrangler.library.models()[0]
    assert record.source == "hf" and isinstance(record.origin, HfOrigin) and record.origin.quant == "Q8_0"
    assert record.path.read_bytes() == gguf_repo.files["tiny-Q8_0.gguf"].read_bytes()

    row.clear_button.click()
    assert view.rows == {} and wrangler.jobs.jobs("download") == []
    assert view.empty.isVisibleTo(view)


def test_a_download_interrupted_by_quitting_resumes_on_the_next_start(
        qapp: QApplication, app_paths: AppPaths, hub: FakeHub, gguf_repo: PublishedGGUF,
        qtbot: QtBot) -> None:
    from tests.support.gui import start_app, stop_app

    settings = Settings()
    settings.downloads.hf_endpoint = hub.endpoint
    settings.downloads.token_source = "settings"  # type: ignore[assignment]
    hub.add_fault("tiny-F16.gguf", Fault.slow(16_000))
    first = start_app(qapp, app_paths, settings)
    try:
        dialog = _open_dialog(first, qtbot)
        _inspect(dialog, qtbot, f"hf:{GGUF_REPO}:F16")
        dialog.download_button.click()
        job = first.jobs.jobs("download")[0]
        qtbot.waitUntil(lambda: job.last_progress is not None and job.last_progress.done > 0, timeout=15_000)
    finally:
        stop_app(first)  # quitting: the running download is interrupted, its queue entry kept
    assert first.library.models() == []

    second = start_app(qapp, app_paths)
    try:
        restored = second.jobs.jobs("download")
        assert len(restored) == 1
        assert restored[0].title == f"{GGUF_REPO} · F16"
        assert f"{GGUF_REPO} · F16" in second.downloads_view.rows[restored[0].job_id].title.text()
        qtbot.waitUntil(lambda: restored[0].is_final, timeout=30_000)
        assert restored[0].state == JobState.DONE, restored[0].error
        qtbot.waitUntil(lambda: second.library_view.model.rowCount() == 1)
        assert second.library.models()[0].path.read_bytes() == gguf_repo.files["tiny-F16.gguf"].read_bytes()
    finally:
        stop_app(second)


@pytest.mark.runtime
def test_a_safetensors_repo_is_offered_for_conversion(wrangler: WranglerApp, qtbot: QtBot, hub: FakeHub,
                                                     runtime_dir: Path, tmp_path: Path) -> None:
    from tests.support.tiny_hf import make_tiny_llama

    # The app's own runtime folder (what `runtime install` makes) holds the conversion toolchain.
    wrangler.paths.runtime_root.mkdir(parents=True, exist_ok=True)
    (wrangler.paths.runtime_root / "b11312-cpu").symlink_to(runtime_dir, target_is_directory=True)
    folder = make_tiny_llama(tmp_path / "tiny-llama-hf")
    hub.add_repo("org/tiny-llama", {p.name: p for p in folder.iterdir() if p.is_file()})

    dialog = _open_dialog(wrangler, qtbot)
    _inspect(dialog, qtbot, "org/tiny-llama")
    assert dialog.converting and not dialog.choices.isVisible()
    assert "can be converted" in dialog.status.text()
    assert dialog.download_button.text() == "Convert" and dialog.download_button.isEnabled()
    dialog.convert_quant.setCurrentIndex(dialog.convert_quant.findData("Q8_0"))
    dialog.download_button.click()
    assert wrangler.window.current_page_key() == "downloads"

    row = next(iter(wrangler.downloads_view.rows.values()))
    assert row.kind.text() == "Conversion"
    qtbot.waitUntil(lambda: row.job.is_final, timeout=180_000)
    assert row.status.text().startswith("Done"), row.job.error
    qtbot.waitUntil(lambda: wrangler.library_view.model.rowCount() == 1)
    record = wrangler.library.models()[0]
    assert record.info.quant == "Q8_0" and record.source == "convert"


def test_a_search_in_the_dialog_lists_repos_and_their_quants_with_a_fit_badge(
        wrangler: WranglerApp, qtbot: QtBot, hub: FakeHub, tmp_path: Path) -> None:
    popular, other = "TheBloke/TinyLlama-1.1B-Chat-GGUF", "someone/tinyllama-mini-GGUF"
    publish_gguf_repo(hub, tmp_path / "a", popular)
    publish_gguf_repo(hub, tmp_path / "b", other)
    hub.set_stats(popular, downloads=9_000, likes=40)
    dialog = _open_dialog(wrangler, qtbot)
    dialog.input.setText("tinyllama")
    assert dialog.inspect_button.text() == "Search"
    dialog.inspect_button.click()
    qtbot.waitUntil(lambda: dialog.results.tree.topLevelItemCount() == 2, timeout=15_000)
    assert dialog.results.repo_ids() == [popular, other]  # most downloaded first
    assert dialog.results.tree.topLevelItem(0).text(1) == "9,000"  # type: ignore[union-attr]
    dialog.results.choose(popular)  # picking a repo inspects it
    qtbot.waitUntil(lambda: dialog.choices.isVisible() and dialog.choices.topLevelItemCount() == 4,
                    timeout=15_000)
    badges = {dialog.choices.topLevelItem(i).text(4) for i in range(4)}  # type: ignore[union-attr]
    assert badges <= {"fits in VRAM", "fits in RAM", "too large"} and badges
    assert dialog.listing is not None and dialog.listing.repo_id == popular
    assert dialog.download_button.isEnabled()

