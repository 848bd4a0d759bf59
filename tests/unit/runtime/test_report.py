"""What the llama.cpp page and the first-run banner are told: missing, broken, too old, ready — each in its
own words, with what an install here would take."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.backends import Platform
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.report import RuntimeState, runtime_report
from llama_wrangler.settings import Settings

LINUX = Platform("linux", "x86_64")


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def nothing(_name: str) -> str | None:
    return None


def test_missing_on_a_bare_machine(app_paths: AppPaths) -> None:
    report = runtime_report(Settings(), app_paths, which=nothing, plat=LINUX, gpus=())
    assert report.state is RuntimeState.MISSING and not report.usable
    assert report.headline == "llama.cpp is needed to run models"
    assert report.mismatch == "", "nothing to compare"
    assert report.prebuilt_possible, "upstream publishes a Linux x64 CPU release"
    assert report.missing_build_tools == ("cmake", "a C/C++ compiler")
    assert "apt install cmake build-essential" in report.build_tools_hint
    plan = report.install_plan()
    assert "prebuilt b11312 release" in plan and "would need cmake and a C/C++ compiler" in plan


def test_a_cuda_machine_is_planned_for_cuda(app_paths: AppPaths) -> None:
    tools = {"cmake": "/usr/bin/cmake", "c++": "/usr/bin/c++", "nvcc": "/x/nvcc", "nvidia-smi": "/x/nvidia-smi"}
    report = runtime_report(Settings(), app_paths, which=tools.get, plat=LINUX, gpus=("NVIDIA H100",))
    assert report.build_backend == "cuda" and report.gpus == ("NVIDIA H100",)
    assert report.install_plan() == ("Downloads the prebuilt b11312 release for CUDA; if there is none, builds "
                                     "it from source.")


def test_a_llama_server_on_path_that_is_too_old_is_said_plainly(app_paths: AppPaths, tmp_path: Path) -> None:
    old = _script(tmp_path / "llama-server", 'echo "version: 4000 (abc1234)" >&2\n'
                  'echo "built with cc (GCC) 12 for x86_64-linux-gnu" >&2')
    report = runtime_report(Settings(), app_paths, which={"llama-server": str(old)}.get, plat=LINUX, gpus=())
    assert report.state is RuntimeState.TOO_OLD
    assert report.where == "path" and report.where_text == "PATH"
    assert report.headline == "The llama.cpp found here is too old"
    assert "build 4000, older than build 5000" in report.problem
    assert report.mismatch == f"This is build 4000 (commit abc1234); Llama Wrangler is tested with {PINNED.label()}."


def test_a_chosen_program_that_is_not_llama_cpp_is_broken(app_paths: AppPaths, tmp_path: Path) -> None:
    settings = Settings()
    settings.runtime.llama_server_path = _script(tmp_path / "server", "echo hello")
    report = runtime_report(settings, app_paths, which=nothing, plat=LINUX, gpus=())
    assert report.state is RuntimeState.BROKEN
    assert "does not look like llama.cpp" in report.problem


def test_a_chosen_path_that_does_not_exist_is_broken_not_missing(app_paths: AppPaths, tmp_path: Path) -> None:
    settings = Settings()
    settings.runtime.llama_server_path = tmp_path / "gone" / "llama-server"
    report = runtime_report(settings, app_paths, which=nothing, plat=LINUX, gpus=())
    assert report.state is RuntimeState.BROKEN
    assert "does not exist" in report.problem


@pytest.mark.runtime
def test_the_pinned_build_is_ready(app_paths: AppPaths, runtime_dir: Path) -> None:
    settings = Settings()
    settings.runtime.llama_server_path = runtime_dir / "bin" / "llama-server"
    report = runtime_report(settings, app_paths, which=nothing, plat=LINUX, gpus=())
    assert report.state is RuntimeState.READY and report.usable
    assert report.build_number == PINNED.build_number and report.is_pinned and report.mismatch == ""
    assert report.backend == "cpu" and report.version
