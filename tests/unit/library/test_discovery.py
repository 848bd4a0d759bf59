"""Discovery of other stores, built as their real layouts in tmp dirs; linked in place, read-only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from llama_wrangler.library.discovery import (
    discover_all,
    discover_hf_cache,
    discover_lmstudio,
    discover_ollama,
    hf_cache_dir,
    link_found,
    ollama_dir,
)
from llama_wrangler.library.origins import HfOrigin, ModelSource, StoreOrigin
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from tests.support.gguf_files import write_gguf


def make_hf_cache(root: Path, repo: str = "org/Tiny-GGUF", file: str = "tiny-Q4_K_M.gguf") -> Path:
    """Like huggingface_hub: the content in blobs/<sha256>, snapshots/<rev>/<file> a relative symlink."""
    repo_dir = root / f"models--{repo.replace('/', '--')}"
    staging = write_gguf(root / "staging" / file)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    blob = repo_dir / "blobs" / digest
    blob.parent.mkdir(parents=True)
    staging.rename(blob)
    revision = "a" * 40
    link = repo_dir / "snapshots" / revision / file
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)
    return link


def make_ollama_store(root: Path, model: str = "tinyllama", tag: str = "latest",
                      namespace: str = "library") -> Path:
    staging = write_gguf(root / "staging.gguf")
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    blob = root / "blobs" / f"sha256-{digest}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(blob)
    manifest = root / "manifests" / "registry.ollama.ai" / namespace / model / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:" + "0" * 64},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "1" * 64, "size": 1},
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}",
             "size": blob.stat().st_size},
        ],
    }))
    return blob


def test_environment_is_read_at_call_time(tmp_path: Path) -> None:
    assert hf_cache_dir({"HF_HUB_CACHE": str(tmp_path / "a"), "HF_HOME": "/x"}) == tmp_path / "a"
    assert hf_cache_dir({"HF_HOME": str(tmp_path / "h")}) == tmp_path / "h" / "hub"
    assert hf_cache_dir({"HOME": str(tmp_path)}) == tmp_path / ".cache" / "huggingface" / "hub"
    assert ollama_dir({"OLLAMA_MODELS": str(tmp_path / "o")}) == tmp_path / "o"
    assert ollama_dir({"HOME": str(tmp_path)}) == tmp_path / ".ollama" / "models"


def test_hf_cache(tmp_path: Path) -> None:
    link = make_hf_cache(tmp_path / "hub")
    found = discover_hf_cache(tmp_path / "hub")
    assert len(found) == 1
    item = found[0]
    assert item.source == "hf-cache"
    assert item.files == (link,)
    assert item.name == "tiny-Q4_K_M"
    assert item.origin == HfOrigin(repo="org/Tiny-GGUF", revision="a" * 40, files=("tiny-Q4_K_M.gguf",))
    assert item.sha256 == link.resolve().name


def test_ollama_store(tmp_path: Path) -> None:
    blob = make_ollama_store(tmp_path / "ollama")
    make_ollama_store(tmp_path / "ollama", model="coder", tag="7b", namespace="someone")
    found = discover_ollama(tmp_path / "ollama")
    names = sorted(f.name for f in found)
    assert names == ["someone/coder:7b", "tinyllama:latest"]
    tiny = next(f for f in found if f.name == "tinyllama:latest")
    assert tiny.files == (blob,)
    assert tiny.sha256 == blob.name.removeprefix("sha256-")
    assert tiny.source == ModelSource.OLLAMA
    assert tiny.origin == StoreOrigin("tinyllama:latest", digest="sha256:" + tiny.sha256)


def test_ollama_manifest_with_a_hostile_digest_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "ollama"
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / "evil" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../../../etc/passwd"}]}))
    (root / "manifests" / "registry.ollama.ai" / "library" / "broken").mkdir()
    (root / "manifests" / "registry.ollama.ai" / "library" / "broken" / "x").write_text("{not json")
    assert discover_ollama(root) == []


def test_lmstudio(tmp_path: Path) -> None:
    root = tmp_path / ".lmstudio" / "models"
    write_gguf(root / "lmstudio-community" / "Tiny-GGUF" / "tiny-Q8_0.gguf")
    found = discover_lmstudio([root, tmp_path / "absent"])
    assert [f.origin for f in found] == [StoreOrigin("lmstudio-community/Tiny-GGUF/tiny-Q8_0.gguf")]


def test_link_found_registers_in_place_once(app_paths: AppPaths, tmp_path: Path) -> None:
    make_hf_cache(tmp_path / "hub")
    make_ollama_store(tmp_path / "ollama")
    write_gguf(tmp_path / ".lmstudio" / "models" / "pub" / "repo" / "m.gguf")
    write_gguf(tmp_path / ".lmstudio" / "models" / "pub" / "repo" / "mmproj.gguf", arch="clip")
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "OLLAMA_MODELS": str(tmp_path / "ollama"),
           "HOME": str(tmp_path)}
    lib = Library(app_paths, hash_in_background=False).load()
    linked, problems = link_found(lib, discover_all(env))
    assert problems == []
    assert sorted(r.source for r in linked) == ["hf-cache", "lmstudio", "ollama"]
    assert all(not r.owned for r in linked)
    ollama = next(r for r in linked if r.source == "ollama")
    assert ollama.name == "tinyllama:latest"
    assert ollama.sha256 == hashlib.sha256(ollama.path.read_bytes()).hexdigest()
    assert list(app_paths.models_dir.iterdir()) == []  # nothing copied
    again, _ = link_found(lib, discover_all(env))
    assert again == []


def test_unreadable_store_file_is_a_problem_not_a_crash(app_paths: AppPaths, tmp_path: Path) -> None:
    bad = tmp_path / ".lmstudio" / "models" / "pub" / "repo" / "broken.gguf"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"GGUF\x03\x00\x00\x00")
    lib = Library(app_paths, hash_in_background=False).load()
    linked, problems = link_found(lib, discover_all({"HOME": str(tmp_path)}))
    assert linked == []
    assert len(problems) == 1 and "broken.gguf" in problems[0]


@pytest.mark.parametrize("variable", ["HF_HUB_CACHE", "OLLAMA_MODELS"])
def test_missing_store_folders_find_nothing(tmp_path: Path, variable: str) -> None:
    assert discover_all({variable: str(tmp_path / "nowhere"), "HOME": str(tmp_path)}) == []
