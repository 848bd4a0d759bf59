"""Installing never leaves a half-made runtime behind, and the CI cache reuses only a complete one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.runtime.install import install_from_tree, runtime_dir_name, swap_into_place
from llama_wrangler.runtime.sources import SourceKind, SourceTree
from llama_wrangler.settings import Backend
from tests.support import ci_cache
from tests.support.tools import require_tool
from tests.unit.runtime.test_locate import make_runtime_dir


def test_swap_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "b1-cpu"
    target.mkdir()
    (target / "old").write_text("old")
    staging = tmp_path / ".b1-cpu.partial"
    staging.mkdir()
    (staging / "new").write_text("new")
    swap_into_place(staging, target)
    assert (target / "new").exists() and not (target / "old").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b1-cpu"]


def test_failed_build_leaves_the_old_runtime_and_no_staging(tmp_path: Path) -> None:
    require_tool("cmake", "a documented build requirement")
    tree_dir = tmp_path / "tree"
    tree_dir.mkdir()
    (tree_dir / "CMakeLists.txt").write_text('message(FATAL_ERROR "not buildable")\n')
    tree = SourceTree(tree_dir, SourceKind.LOCAL, "test tree", pinned=False)
    root = tmp_path / "llama.cpp"
    target = make_runtime_dir(root / runtime_dir_name(Backend.CPU, None))
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    with pytest.raises(LlamaRuntimeError, match="configure"):
        install_from_tree(tree, target, Backend.CPU, work_dir=tmp_path / "work", log_dir=tmp_path / "logs")
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert [p.name for p in root.iterdir()] == [target.name]  # no .partial left
    assert "not buildable" in (tmp_path / "logs" / f"build-{target.name}.log").read_text()


def test_runtime_dir_names() -> None:
    assert runtime_dir_name(Backend.CUDA) == "b11312-cuda"
    assert runtime_dir_name("cpu") == "b11312-cpu"


def test_ci_cache_root_from_environment(tmp_path: Path) -> None:
    assert ci_cache.cache_root({ci_cache.CACHE_ENV: str(tmp_path)}) == tmp_path
    assert ci_cache.cache_root({}).name == "llama-wrangler-ci"
    assert ci_cache.runtime_path(tmp_path).name == "runtime-b11312-cpu"


def test_ci_cache_reuses_only_a_stamped_complete_runtime(tmp_path: Path) -> None:
    target = tmp_path / "runtime-b11312-cpu"
    assert "no stamp" in (ci_cache.is_current(target) or "")
    make_runtime_dir(target)
    assert "no stamp" in (ci_cache.is_current(target) or "")
    (target / ci_cache.STAMP_NAME).write_text(json.dumps({**ci_cache.wanted_stamp(), "recipe": -1}))
    assert "changed" in (ci_cache.is_current(target) or "")
    (target / ci_cache.STAMP_NAME).write_text(json.dumps(ci_cache.wanted_stamp()))
    # Binaries and stamp, but a conversion venv that was never finished (no requirements stamp).
    assert "toolchain" in (ci_cache.is_current(target) or "")


def test_ci_cache_progress_lines() -> None:
    from llama_wrangler.progress import Progress

    out = io.StringIO()
    printer = ci_cache.StderrProgress(out)
    for done in (0, 1, 2, 50, 51, 100):
        printer(Progress("build", done, 100, f"step {done}"))
    printer(Progress("tools", message="copying"))
    lines = out.getvalue().splitlines()
    assert lines == ["[ci-cache] build 0%: step 0", "[ci-cache] build 50%: step 50", "[ci-cache] build 100%: step 100",
                     "[ci-cache] tools: copying"]
