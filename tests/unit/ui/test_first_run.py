"""The first run in the window, without llama.cpp: the banner on Library and Server, disabled Serve/Start
with the reason, the llama.cpp page's words, its conversion-tools question, and models from another app's
store offered (count, size) and used in place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.origins import ModelSource
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.report import RuntimeReport, RuntimeState
from llama_wrangler.ui.runtime_view import RuntimeView, report_rows
from llama_wrangler.units import human_bytes
from tests.support.gguf_files import write_gguf
from tests.support.gui import app_session

CHECK_MS = 20_000


@pytest.fixture
def hf_cache_models(app_home: Path) -> list[Path]:
    """Two GGUF models in the (test's own) Hugging Face cache under $HOME."""
    hub = Path(os.environ["HOME"]) / ".cache" / "huggingface" / "hub"
    files = []
    for repo, name in (("org--one-GGUF", "one-Q4_K_M.gguf"), ("org--two-GGUF", "two-Q8_0.gguf")):
        files.append(write_gguf(hub / f"models--{repo}" / "snapshots" / ("b" * 40) / name, name=name))
    return files


@pytest.fixture
def first_run(qapp: QApplication, app_paths: AppPaths, hf_cache_models: list[Path],
              monkeypatch: pytest.MonkeyPatch) -> Iterator[WranglerApp]:
    monkeypatch.setenv("PATH", "/nonexistent")  # no llama-server of the machine's
    yield from app_session(qapp, app_paths)


def test_first_run_without_llama_cpp(first_run: WranglerApp, qtbot: QtBot) -> None:
    wrangler = first_run
    qtbot.waitUntil(lambda: wrangler.runtime.report is not None, timeout=CHECK_MS)
    assert wrangler.runtime.report.state is RuntimeState.MISSING
    for banner in (wrangler.library_banner, wrangler.server_banner):
        assert not banner.isHidden() and banner.install_button.isEnabled()
    assert "llama.cpp is needed" in wrangler.server_view.start_button.toolTip()
    page = wrangler.runtime_view
    assert page.headline.text() == "llama.cpp is needed to run models"
    assert page.problem.isHidden(), "missing on a first run is not an error"
    assert not page.advice.isHidden()
    assert not page.toolchain_button.isEnabled(), "the conversion tools need the app's own llama.cpp"
    assert wrangler.supervisor.state == "stopped"


def test_models_from_other_apps_are_offered_and_used_in_place(first_run: WranglerApp, qtbot: QtBot,
                                                             hf_cache_models: list[Path]) -> None:
    wrangler = first_run
    offer = wrangler.store_offer
    qtbot.waitUntil(lambda: not offer.isHidden(), timeout=CHECK_MS)
    total = sum(path.stat().st_size for path in hf_cache_models)
    assert offer.headline.text() == f"2 models from other apps, {human_bytes(total)}"
    assert "the Hugging Face cache (2)" in offer.text.text()
    with qtbot.waitSignal(wrangler.actions.library_changed, timeout=CHECK_MS):
        offer.use_button.click()
    qtbot.waitUntil(lambda: len(wrangler.library.models()) == 2, timeout=CHECK_MS)
    records = wrangler.library.models()
    assert {r.source for r in records} == {ModelSource.HF_CACHE}
    assert {r.path for r in records} == set(hf_cache_models), "used where they are, not copied"
    assert offer.isHidden()
    # The Library page keeps the action: nothing new is found now.
    with qtbot.waitSignal(wrangler.messenger.shown, timeout=CHECK_MS,
                          check_params_cb=lambda _level, text, _details: text.startswith("No new models")):
        wrangler.library_view.other_apps_button.click()
    assert offer.isHidden()


def test_the_conversion_tools_question_names_the_size_first(qapp: QApplication, qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    view = RuntimeView()
    qtbot.addWidget(view)
    view.show_report(RuntimeReport(RuntimeState.READY, where="app", root=tmp_path, server=tmp_path / "s",
                                   build_number=11312, commit="0c1e57098", backend="cpu",
                                   toolchain="no conversion environment"))
    assert view.toolchain_button.isEnabled()
    view.toolchain_button.click()
    box = view.findChild(QMessageBox, "toolchainQuestion")
    assert box is not None and "1.2 GB" in box.text()
    with qtbot.waitSignal(view.toolchain_requested):
        box.button(QMessageBox.StandardButton.Yes).click()


def test_a_too_old_runtime_is_said_with_its_reason(qapp: QApplication, qtbot: QtBot) -> None:
    view = RuntimeView()
    qtbot.addWidget(view)
    report = RuntimeReport(RuntimeState.TOO_OLD, where="path", server=Path("/usr/bin/llama-server"),
                           build_number=4000, commit="abc1234", backend="cpu",
                           problem="/usr/bin/llama-server is llama.cpp build 4000, older than build 5000 …")
    view.show_report(report)
    assert view.headline.text() == "The llama.cpp found here is too old"
    assert not view.problem.isHidden() and "build 4000" in view.problem.text()
    assert "tested with llama.cpp b11312" in view.mismatch.text()
    assert ("Found in", "PATH") in report_rows(report)
    assert ("Version", "build 4000, commit abc1234") in report_rows(report)


def test_use_an_existing_llama_server_opens_a_file_dialog(qapp: QApplication, qtbot: QtBot) -> None:
    view = RuntimeView()
    qtbot.addWidget(view)
    view.existing_button.click()
    dialog = view.file_dialog
    assert dialog is not None and dialog.isVisible()
    with qtbot.waitSignal(view.use_existing_requested) as chosen:
        dialog.fileSelected.emit("/opt/llama/llama-server")
    assert chosen.args == ["/opt/llama/llama-server"]
    dialog.close()


def test_a_too_old_llama_server_on_path_is_said_plainly(qapp: QApplication, app_paths: AppPaths, tmp_path: Path,
                                                        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = bin_dir / "llama-server"
    old.write_text('#!/bin/sh\necho "version: 4000 (abc1234)" >&2\n')
    old.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    session = app_session(qapp, app_paths)
    wrangler = next(session)
    try:
        qtbot.waitUntil(lambda: wrangler.runtime.report is not None, timeout=CHECK_MS)
        assert wrangler.runtime.report.state is RuntimeState.TOO_OLD
        assert wrangler.library_banner.headline.text() == "The llama.cpp found here is too old"
        assert "build 4000" in wrangler.library_banner.text.text()
        tooltip = wrangler.server_view.start_button.toolTip()
        assert tooltip.startswith("The llama.cpp found here is too old: ") and "build 4000" in tooltip
    finally:
        session.close()
