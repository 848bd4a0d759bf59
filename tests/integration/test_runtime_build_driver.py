"""The cmake build driver on a tiny real cmake project: progress, log, failures, cancel.

The real llama.cpp build runs once, in ci_cache (minutes); this exercises the same code path in seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import psutil
import pytest

from llama_wrangler.errors import CancelledError, LlamaRuntimeError
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.runtime.build import cmake_build, find_built, parse_progress_line
from tests.support.tools import tool_fixture

cmake = tool_fixture("cmake", "a documented build requirement")

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello from cmake"); return 0; }\n'


def project(root: Path, extra_cmake: str = "", source: str = HELLO_C) -> Path:
    root.mkdir(parents=True)
    (root / "hello.c").write_text(source)
    (root / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.14)\nproject(hello C)\n"
        "set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)\n"
        "add_executable(hello hello.c)\n" + extra_cmake)
    return root


def test_progress_lines_are_parsed() -> None:
    assert parse_progress_line("[ 42%] Building C object x.o") == 42
    assert parse_progress_line("[100%] Built target llama-server") == 100
    assert parse_progress_line("[12/48] Building CXX object y.o") == 25
    assert parse_progress_line("-- Configuring done") is None
    assert parse_progress_line("warning: [ 42%] not at the start") is None


def test_builds_with_progress_and_full_log(tmp_path: Path) -> None:
    src = project(tmp_path / "src")
    reports: list[Progress] = []
    result = cmake_build(src, tmp_path / "build", flags=["-DCMAKE_BUILD_TYPE=Release"], targets=["hello"],
                         log_file=tmp_path / "logs" / "build.log", jobs=1, progress=reports.append)
    hello = find_built(result.build_dir, "hello")
    assert subprocess.run([str(hello)], capture_output=True, text=True, check=True).stdout == "hello from cmake\n"
    stages = [r.stage for r in reports]
    assert stages[0] == "configure" and "build" in stages
    percents = [r.done for r in reports if r.stage == "build"]
    assert percents[-1] == 100 and any(0 < p < 100 for p in percents)
    log = result.log_file.read_text()
    assert "cmake -S" in log and "--build" in log and "Built target hello" in log
    assert result.tool_versions["cmake"][0].isdigit() and "c" in result.tool_versions


def test_configure_failure_names_the_log(tmp_path: Path) -> None:
    src = project(tmp_path / "src", 'message(FATAL_ERROR "boom-configure")\n')
    log = tmp_path / "build.log"
    with pytest.raises(LlamaRuntimeError, match="could not configure") as caught:
        cmake_build(src, tmp_path / "build", flags=[], targets=["hello"], log_file=log)
    assert str(log) in str(caught.value)
    assert "boom-configure" in log.read_text()


def test_compile_failure_names_the_log(tmp_path: Path) -> None:
    src = project(tmp_path / "src", source="int main(void) { this is not C }\n")
    log = tmp_path / "build.log"
    with pytest.raises(LlamaRuntimeError, match="build failed"):
        cmake_build(src, tmp_path / "build", flags=[], targets=["hello"], log_file=log)
    assert "error" in log.read_text()


def test_missing_cmake_gives_an_install_hint(tmp_path: Path) -> None:
    def which(name: str) -> str | None:
        return None if name == "cmake" else shutil.which(name)

    with pytest.raises(LlamaRuntimeError, match="cmake") as caught:
        cmake_build(project(tmp_path / "src"), tmp_path / "b", flags=[], targets=["hello"],
                    log_file=tmp_path / "l.log", which=which)
    assert caught.value.hint and ("apt" in caught.value.hint or "brew" in caught.value.hint
                                  or "winget" in caught.value.hint)


def _sleepers(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline[-2:] == ["sleep", marker] and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_cancel_kills_the_whole_build_tree(tmp_path: Path) -> None:
    marker = str(6000 + os.getpid() % 1000)  # a long sleep nobody else runs
    src = project(tmp_path / "src", f"add_custom_target(slow ALL COMMAND ${{CMAKE_COMMAND}} -E sleep {marker})\n"
                                    "add_dependencies(slow hello)\n")
    token = CancelToken()
    outcome: list[BaseException | None] = []

    def build() -> None:
        try:
            cmake_build(src, tmp_path / "build", flags=[], targets=["slow"], log_file=tmp_path / "build.log",
                        cancel=token)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    try:
        # Wait (bounded) until the build's grandchild - the sleep - is running.
        for _ in range(600):
            if _sleepers(marker) or not worker.is_alive():
                break
            token.wait(0.1)
        assert _sleepers(marker), "the slow build step never started"
    finally:
        token.cancel()
        worker.join(60)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CancelledError)
    _gone, alive = psutil.wait_procs(_sleepers(marker), timeout=10)
    assert not alive, "cancel left the build's children running"
