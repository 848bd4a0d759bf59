"""The Install button's work: the release for this machine first, then a source build, with the compiler
check and its hint said before anything is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.runtime.backends import Platform
from llama_wrangler.services.runtime_work import RuntimeWork, check_llama_server
from llama_wrangler.settings import Settings
from llama_wrangler.work import JobKind
from tests.support.static_http import static_server


def test_no_release_and_no_compiler_says_both_and_how_to_get_one(app_paths: AppPaths) -> None:
    reports: list[Progress] = []
    with static_server({"/release": (404, "application/json", b"{}")}) as server:
        settings = Settings()
        settings.runtime.releases_api_url = server.url("/release")
        work = RuntimeWork(app_paths, lambda: settings, plat=lambda: Platform("linux", "x86_64"),
                           which=lambda _name: None)
        install = work.install()
        assert install.kind == JobKind.BUILD
        assert install.log_file == app_paths.log_dir / "build-b11312-cpu.log"
        with pytest.raises(LlamaRuntimeError) as caught:
            install.run(reports.append, CancelToken())
    message = str(caught.value)
    assert message.startswith("The prebuilt release could not be installed (")
    assert "building llama.cpp needs cmake and a C/C++ compiler, which are not installed" in message
    assert "sudo apt install cmake build-essential" in message
    assert any("building from source" in report.message for report in reports), "the fallback is said"
    assert not any(app_paths.runtime_root.glob("*")), "nothing half-installed"


def test_rebuild_checks_the_compiler_first(app_paths: AppPaths) -> None:
    work = RuntimeWork(app_paths, Settings, plat=lambda: Platform("darwin", "arm64"), which=lambda _name: None)
    rebuild = work.rebuild()
    assert rebuild.log_file == app_paths.log_dir / "build-b11312-metal.log"
    with pytest.raises(LlamaRuntimeError, match="xcode-select --install"):
        rebuild.run(lambda _p: None, CancelToken())


def test_check_llama_server_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(LlamaRuntimeError, match="is not a file"):
        check_llama_server(tmp_path)
