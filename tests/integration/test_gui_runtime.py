"""First run without llama.cpp, through the window: the banner on the Library and Server pages, Serve and
Start disabled with the reason, Install from the banner as a job in the Downloads list (a loopback
releases API serving an archive of the real pinned llama-server), then a real serve. And "Use an existing
llama-server…" validated with ``--version``."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.app import WranglerApp
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.report import RuntimeState
from llama_wrangler.server.state import ServerState
from llama_wrangler.settings import ImportMode, PortConflict, Settings
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import JobState
from tests.support.gui import app_session
from tests.support.server_fixtures import TinyModels
from tests.support.static_http import StaticServer, static_server

pytestmark = pytest.mark.runtime

ASSET = f"llama-{PINNED.tag}-bin-ubuntu-x64.tar.gz"
CHECK_MS = 30_000


def release_archive(runtime_dir: Path) -> bytes:
    """The pinned llama-server and llama-quantize packed as upstream packs a Linux release."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for name in ("llama-server", "llama-quantize"):
            tar.add(runtime_dir / "bin" / name, arcname=f"build/bin/{name}")
    return buffer.getvalue()


@pytest.fixture
def releases(runtime_dir: Path) -> Iterator[StaticServer]:
    archive = release_archive(runtime_dir)
    with static_server() as server:
        server.routes[f"/download/{ASSET}"] = (200, "application/gzip", archive)
        release = {"tag_name": PINNED.tag, "assets": [{
            "name": ASSET, "browser_download_url": server.url(f"/download/{ASSET}"), "size": len(archive),
            "digest": "sha256:" + hashlib.sha256(archive).hexdigest()}]}
        server.routes["/release"] = (200, "application/json", json.dumps(release).encode())
        yield server


@pytest.fixture
def wrangler(qapp: QApplication, app_paths: AppPaths, releases: StaticServer, tiny_models: TinyModels,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[WranglerApp]:
    # An empty PATH: no llama-server of the machine's may be found (a first run on a fresh system).
    monkeypatch.setenv("PATH", "/nonexistent")
    Library(app_paths, hash_in_background=False).load().import_files([tiny_models.alpha], ImportMode.LINK)
    settings = Settings()
    settings.runtime.releases_api_url = releases.url("/release")
    settings.server.port_conflict = PortConflict.PICK_FREE
    settings.server.context_size = 256
    settings.server.threads = 1
    yield from app_session(qapp, app_paths, settings)


def test_first_run_banner_install_from_the_banner_then_serve(wrangler: WranglerApp, qtbot: QtBot) -> None:
    qtbot.waitUntil(lambda: wrangler.runtime.report is not None, timeout=CHECK_MS)
    report = wrangler.runtime.report
    assert report is not None and report.state is RuntimeState.MISSING
    for banner in (wrangler.library_banner, wrangler.server_banner):
        assert not banner.isHidden()
        assert banner.headline.text() == "llama.cpp is needed to run models"
    start = wrangler.server_view.start_button
    assert not start.isEnabled()
    assert "llama.cpp is needed" in start.toolTip()
    details = wrangler.library_view.details
    assert details.record is not None and not details.serve_button.isEnabled()
    assert "llama.cpp is needed" in details.serve_button.toolTip()
    # Serving anyway (the tray, an API request) says why, and the server never "crashes".
    model_id = details.record.id
    wrangler.actions.serve(model_id)
    assert wrangler.supervisor.state == ServerState.STOPPED

    wrangler.library_banner.install_button.click()
    job = wrangler.runtime.build_job
    assert job is not None and job.kind == JobKind.BUILD
    assert job.job_id in wrangler.downloads_view.rows, "the install is a row in the Downloads list"
    qtbot.waitUntil(lambda: job.is_final, timeout=120_000)
    assert job.state == JobState.DONE, job.error
    qtbot.waitUntil(lambda: wrangler.runtime.report is not None and wrangler.runtime.report.usable,
                    timeout=CHECK_MS)
    report = wrangler.runtime.report
    assert report.where == "app" and report.is_pinned and report.build_number == PINNED.build_number
    assert wrangler.library_banner.isHidden() and wrangler.server_banner.isHidden()
    assert wrangler.server_view.start_button.isEnabled()
    assert wrangler.runtime_view.headline.text().startswith("llama.cpp is ready")

    wrangler.actions.serve(model_id)
    qtbot.waitUntil(lambda: wrangler.supervisor.state == ServerState.READY, timeout=60_000)


def test_use_an_existing_llama_server_is_checked_then_used(wrangler: WranglerApp, qtbot: QtBot,
                                                           runtime_dir: Path, tmp_path: Path) -> None:
    qtbot.waitUntil(lambda: wrangler.runtime.report is not None, timeout=CHECK_MS)
    not_llama = tmp_path / "not-llama"
    not_llama.write_text("#!/bin/sh\necho hello\n")
    not_llama.chmod(0o755)
    with qtbot.waitSignal(wrangler.messenger.shown, timeout=CHECK_MS) as shown:
        wrangler.runtime_view.use_existing_requested.emit(str(not_llama))
    assert shown.args[0] == "error" and "does not look like llama.cpp" in shown.args[1]
    assert wrangler.settings.settings.runtime.llama_server_path is None, "a bad choice changes nothing"

    server = runtime_dir / "bin" / "llama-server"
    wrangler.runtime_view.use_existing_requested.emit(str(server))
    qtbot.waitUntil(lambda: wrangler.settings.settings.runtime.llama_server_path == server, timeout=CHECK_MS)
    qtbot.waitUntil(lambda: wrangler.runtime.report is not None and wrangler.runtime.report.usable,
                    timeout=CHECK_MS)
    assert wrangler.runtime.report.where == "settings"
    assert wrangler.library_banner.isHidden()
