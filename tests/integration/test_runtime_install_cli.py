"""`runtime install` from the terminal: Ctrl-C cancels a running build cleanly (real cmake, tiny tree)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken
from tests.support.tools import tool_fixture

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
cmake = tool_fixture("cmake", "a documented build requirement")


def slow_tree(root: Path, marker: str) -> Path:
    """Looks like a llama.cpp tree; its configure step sleeps, so the build is running when we interrupt."""
    for rel in ("tools/server/x.cpp", "tools/quantize/x.cpp", "convert_hf_to_gguf.py", "gguf-py/x.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    (root / "CMakeLists.txt").write_text(
        f"cmake_minimum_required(VERSION 3.14)\nproject(slow C)\n"
        f"execute_process(COMMAND ${{CMAKE_COMMAND}} -E sleep {marker})\n")
    return root


def sleepers(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline", "status"])
            if (p.info["cmdline"] or [])[-2:] == ["sleep", marker] and p.info["status"] != psutil.STATUS_ZOMBIE]


def test_ctrl_c_cancels_the_build_and_installs_nothing(app_paths: AppPaths, tmp_path: Path) -> None:
    marker = str(7000 + os.getpid() % 1000)
    tree = slow_tree(tmp_path / "llama.cpp", marker)
    env = {**os.environ, "LLAMA_WRANGLER_HOME": str(app_paths.data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "llama_wrangler", "runtime", "install", "--source", str(tree),
                             "--backend", "cpu", "--no-toolchain"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    waiter = CancelToken()
    try:
        for _ in range(600):  # bounded wait until cmake's child is running
            if sleepers(marker) or proc.poll() is not None:
                break
            waiter.wait(0.1)
        assert sleepers(marker), "the build never started"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Cancelled; nothing was installed." in err
    _gone, alive = psutil.wait_procs(sleepers(marker), timeout=10)
    assert not alive, "Ctrl-C left cmake's children running"
    runtime_root = app_paths.runtime_root
    assert not runtime_root.exists() or list(runtime_root.iterdir()) == []
    assert not list((app_paths.cache_dir / "runtime-build").glob("*/build"))
