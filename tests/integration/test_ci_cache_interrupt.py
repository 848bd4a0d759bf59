"""ci_cache killed mid-build (CI cancels jobs with SIGTERM) leaves no stamp, no staging, no processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from llama_wrangler.runtime.pinned import PINNED
from tests.support import ci_cache

REPO_ROOT = Path(__file__).resolve().parents[2]  # `-m tests.support.ci_cache` is found from there
pytestmark = [pytest.mark.runtime, pytest.mark.slow,
              pytest.mark.skipif(os.name == "nt", reason="POSIX signals")]


def _builders(cache: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and str(cache) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_sigterm_mid_build_leaves_nothing_stamped(runtime_dir: Path, tmp_path: Path) -> None:
    sdist = runtime_dir.parent / "sources" / PINNED.sdist_filename
    if not sdist.is_file():
        pytest.skip("needs the sdist that ci_cache keeps beside the runtime it built (run via scripts/dev.py)")
    cache = tmp_path / "ci"
    (cache / "sources").mkdir(parents=True)
    try:
        os.link(sdist, cache / "sources" / sdist.name)
    except OSError:
        shutil.copy2(sdist, cache / "sources" / sdist.name)
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.ci_cache"], cwd=REPO_ROOT,
                            env={**os.environ, ci_cache.CACHE_ENV: str(cache)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until the compile has started
            if "[ci-cache] build 0%" in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert out == ""  # no runtime path printed
    _gone, alive = psutil.wait_procs(_builders(cache), timeout=10)
    assert not alive, "the compilers outlived ci_cache"
    assert sorted(p.name for p in cache.iterdir()) == [".lock", "logs", "sources"]
    assert ci_cache.is_current(ci_cache.runtime_path(cache)) is not None
