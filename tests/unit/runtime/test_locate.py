"""Finding the runtime: the runtime-dir contract and the search order.

The "binaries" here are tiny shell scripts that print a version line: stand-ins for locate order only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.locate import (
    candidate_servers,
    find_runtime,
    installed_runtime_dirs,
    locate_runtime,
    runtime_from_dir,
)
from llama_wrangler.settings import Backend, RuntimeSettings, Settings

pytestmark = pytest.mark.skipif(os.name == "nt", reason="stand-in binaries are shell scripts")


def stand_in(path: Path, build: int = 11312) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho 'version: 0.5.0-dev (build {build}, commit 0c1e57098)' >&2\n")
    path.chmod(0o755)
    return path


def make_runtime_dir(root: Path, *, manifest: dict[str, object] | None = None, full: bool = True) -> Path:
    stand_in(root / "bin" / "llama-server")
    if full:
        stand_in(root / "bin" / "llama-quantize")
        (root / "tools").mkdir(parents=True)
        (root / "tools" / "convert_hf_to_gguf.py").write_text("")
        stand_in(root / "venv" / "bin" / "python")
    if manifest is not None:
        (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def no_which(_name: str) -> str | None:
    return None


def test_runtime_from_dir_reads_layout_and_manifest(tmp_path: Path) -> None:
    root = make_runtime_dir(tmp_path / "rt", manifest={"build_number": 11312, "commit": "0c1e57098bba",
                                                       "backend": "cpu"})
    runtime = runtime_from_dir(root)
    assert runtime.root == root
    assert runtime.server == root / "bin" / "llama-server"
    assert runtime.quantize == root / "bin" / "llama-quantize"
    assert runtime.convert_script == root / "tools" / "convert_hf_to_gguf.py"
    assert runtime.convert_python == root / "venv" / "bin" / "python"
    assert (runtime.build_number, runtime.commit, runtime.backend) == (11312, "0c1e57098bba", "cpu")


def test_runtime_from_dir_partial_and_hand_made(tmp_path: Path) -> None:
    root = make_runtime_dir(tmp_path / "rt", full=False)
    (root / "manifest.json").write_text("{not json")
    runtime = runtime_from_dir(root)
    assert runtime.quantize is None and runtime.convert_script is None and runtime.convert_python is None
    assert (runtime.build_number, runtime.commit, runtime.backend) == (None, None, "unknown")


def test_runtime_from_dir_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(LlamaRuntimeError, match="does not exist"):
        runtime_from_dir(tmp_path / "nowhere")
    (tmp_path / "empty" / "bin").mkdir(parents=True)
    with pytest.raises(LlamaRuntimeError, match="bin/llama-server"):
        runtime_from_dir(tmp_path / "empty")
    not_exec = tmp_path / "noexec" / "bin" / "llama-server"
    not_exec.parent.mkdir(parents=True)
    not_exec.write_text("")
    with pytest.raises(LlamaRuntimeError, match="runnable"):
        runtime_from_dir(tmp_path / "noexec")


def test_search_order(app_paths: AppPaths, tmp_path: Path) -> None:
    custom = stand_in(tmp_path / "custom" / "llama-server")
    on_path = stand_in(tmp_path / "pathdir" / "llama-server")
    brew = stand_in(tmp_path / "brew" / "llama-server")
    ours = make_runtime_dir(app_paths.runtime_root / "b11312-cpu")

    def which(name: str) -> str | None:
        return str(on_path) if name == "llama-server" else None

    with_setting = Settings(runtime=RuntimeSettings(llama_server_path=custom))
    order = candidate_servers(with_setting, app_paths, which=which, homebrew_dirs=[brew.parent], windows=False)
    assert [where for where, _ in order] == ["settings", "app", "path", "homebrew"]
    assert [p for _, p in order] == [custom, ours / "bin" / "llama-server", on_path, brew]

    found = find_runtime(with_setting, app_paths, which=which, homebrew_dirs=[brew.parent])
    assert (found.where, found.runtime.server) == ("settings", custom)
    found = find_runtime(Settings(), app_paths, which=which, homebrew_dirs=[brew.parent])
    assert (found.where, found.runtime.root) == ("app", ours)
    # Without our runtime: PATH, then Homebrew.
    (ours / "bin" / "llama-server").unlink()
    found = find_runtime(Settings(), app_paths, which=which, homebrew_dirs=[brew.parent])
    assert (found.where, found.runtime.server, found.runtime.root) == ("path", on_path, None)
    found = find_runtime(Settings(), app_paths, which=no_which, homebrew_dirs=[brew.parent])
    assert (found.where, found.runtime.server) == ("homebrew", brew)


def test_bare_binary_picks_up_quantize_beside_it(app_paths: AppPaths, tmp_path: Path) -> None:
    server = stand_in(tmp_path / "b" / "llama-server")
    quantize = stand_in(tmp_path / "b" / "llama-quantize")
    runtime = locate_runtime(Settings(runtime=RuntimeSettings(llama_server_path=server)), app_paths,
                             which=no_which, homebrew_dirs=[])
    assert runtime.quantize == quantize and runtime.backend == "unknown"


def test_settings_binary_inside_a_runtime_dir_brings_its_toolchain(app_paths: AppPaths, tmp_path: Path) -> None:
    root = make_runtime_dir(tmp_path / "rt", manifest={"build_number": 11312, "backend": "cpu"})
    runtime = locate_runtime(Settings(runtime=RuntimeSettings(llama_server_path=root / "bin" / "llama-server")),
                             app_paths, which=no_which, homebrew_dirs=[])
    assert runtime.root == root
    assert runtime.convert_script == root / "tools" / "convert_hf_to_gguf.py"
    assert runtime.convert_python is not None and runtime.build_number == 11312


def test_windows_looks_for_exe(app_paths: AppPaths) -> None:
    seen: list[str] = []

    def which(name: str) -> str | None:
        seen.append(name)
        return None

    candidate_servers(Settings(), app_paths, which=which, homebrew_dirs=[], windows=True)
    assert seen == ["llama-server.exe"]


def test_broken_settings_path_is_an_error_not_a_silent_fallback(app_paths: AppPaths, tmp_path: Path) -> None:
    make_runtime_dir(app_paths.runtime_root / "b11312-cpu")
    settings = Settings(runtime=RuntimeSettings(llama_server_path=tmp_path / "gone" / "llama-server"))
    with pytest.raises(LlamaRuntimeError, match="set in the settings"):
        locate_runtime(settings, app_paths, which=no_which, homebrew_dirs=[])


def test_nothing_found_says_where_it_looked(app_paths: AppPaths, tmp_path: Path) -> None:
    brew = tmp_path / "brew"
    with pytest.raises(LlamaRuntimeError) as caught:
        locate_runtime(Settings(), app_paths, which=no_which, homebrew_dirs=[brew], allow_pyserver=False)
    message = str(caught.value)
    assert str(app_paths.runtime_root) in message and "PATH" in message and str(brew) in message
    assert "runtime install" in message


def test_pinned_runtime_dir_comes_first(app_paths: AppPaths) -> None:
    make_runtime_dir(app_paths.runtime_root / "local-abc123-cpu", full=False)
    make_runtime_dir(app_paths.runtime_root / "b11312-cpu", full=False)
    (app_paths.runtime_root / ".b11312-cpu.partial-99" / "bin").mkdir(parents=True)  # never a candidate
    (app_paths.runtime_root / "empty").mkdir()
    names = [p.name for p in installed_runtime_dirs(app_paths.runtime_root)]
    assert names == ["b11312-cpu", "local-abc123-cpu"]
    make_runtime_dir(app_paths.runtime_root / "b11312-vulkan", full=False)
    make_runtime_dir(app_paths.runtime_root / "b11312-cuda", full=False)
    names = [p.name for p in installed_runtime_dirs(app_paths.runtime_root)]
    assert names == ["b11312-cuda", "b11312-vulkan", "b11312-cpu", "local-abc123-cpu"]  # GPU builds first
    names = [p.name for p in installed_runtime_dirs(app_paths.runtime_root, "cpu")]
    assert names[0] == "b11312-cpu"  # unless the settings force a backend
    forced = Settings(runtime=RuntimeSettings(backend=Backend.VULKAN))
    runtime = locate_runtime(forced, app_paths, which=no_which, homebrew_dirs=[])
    assert runtime.root == app_paths.runtime_root / "b11312-vulkan"
