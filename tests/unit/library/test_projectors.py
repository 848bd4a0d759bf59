"""Vision projectors: paired with the model beside them (or Ollama's projector layer), never a model on
their own, kept across a save and a rescan."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from llama_wrangler.errors import ModelImportError
from llama_wrangler.library.discovery import discover_hf_cache, discover_ollama, link_found
from llama_wrangler.library.importer import plan_import
from llama_wrangler.library.projectors import projector_beside
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.services.serve_target import resolve_target
from tests.support.gguf_files import write_gguf
from tests.unit.library.test_discovery import make_hf_cache, make_ollama_store


def write_projector(path: Path) -> Path:
    return write_gguf(path, arch="clip", name="proj")


def test_the_projector_beside_a_model_is_found_by_the_usual_names(tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "gemma-3-4b-Q4_K_M.gguf")
    assert projector_beside(model) is None
    write_projector(tmp_path / "mmproj-gemma-3-4b-Q8_0.gguf")
    write_projector(tmp_path / "mmproj-gemma-3-4b-F16.gguf")
    assert projector_beside(model) == tmp_path / "mmproj-gemma-3-4b-F16.gguf"  # F16 preferred
    ollama = write_gguf(tmp_path / "ollama" / "7b.gguf")
    write_projector(tmp_path / "ollama" / "13b-mmproj.gguf")
    assert projector_beside(ollama) is None  # another tag's projector is not taken
    write_projector(tmp_path / "ollama" / "7b-mmproj.gguf")
    assert projector_beside(ollama) == tmp_path / "ollama" / "7b-mmproj.gguf"
    assert projector_beside(tmp_path / "mmproj-gemma-3-4b-F16.gguf") is None


def test_a_rescan_pairs_a_model_with_its_projector_and_never_lists_the_projector(app_paths: AppPaths) -> None:
    library = Library(app_paths, hash_in_background=False).load()
    folder = library.models_dir / "org" / "vision-GGUF"
    model = write_gguf(folder / "vision-Q4_K_M.gguf")
    projector = write_projector(folder / "mmproj-vision-F16.gguf")
    report = library.rescan()
    assert report.errors == []
    [record] = library.models()
    assert record.path == model and record.mmproj == projector
    again = Library(app_paths, hash_in_background=False).load()  # saved and read back
    assert again.models()[0].mmproj == projector
    assert again.rescan().added == []
    target = resolve_target(again, record.id)
    assert target.mmproj == projector


def test_a_projector_alone_is_not_imported(tmp_path: Path, app_paths: AppPaths) -> None:
    library = Library(app_paths, hash_in_background=False).load()
    projector = write_projector(tmp_path / "mmproj-x-F16.gguf")
    with pytest.raises(ModelImportError, match="vision projector, not a model"):
        plan_import(library, [projector])


def test_models_used_in_place_find_their_projectors(tmp_path: Path, app_paths: AppPaths) -> None:
    library = Library(app_paths, hash_in_background=False).load()
    # Hugging Face cache: the projector is a file of the same snapshot.
    link = make_hf_cache(tmp_path / "hf")
    projector_blob = write_projector(tmp_path / "staging-proj.gguf")
    (link.parent / "mmproj-tiny-F16.gguf").symlink_to(projector_blob)
    # Ollama: a projector layer in the manifest, its blob in the store.
    store = tmp_path / "ollama"
    make_ollama_store(store, model="llava", tag="7b")
    staged = write_projector(tmp_path / "staging-ollama-proj.gguf")
    digest = hashlib.sha256(staged.read_bytes()).hexdigest()
    blob = store / "blobs" / f"sha256-{digest}"
    staged.rename(blob)
    manifest = store / "manifests" / "registry.ollama.ai" / "library" / "llava" / "7b"
    data = json.loads(manifest.read_text())
    data["layers"].append({"mediaType": "application/vnd.ollama.image.projector", "digest": f"sha256:{digest}",
                           "size": blob.stat().st_size})
    manifest.write_text(json.dumps(data))

    linked, problems = link_found(library, discover_hf_cache(tmp_path / "hf") + discover_ollama(store))
    assert problems == []
    by_source = {record.source.value: record for record in linked}
    assert set(by_source) == {"hf-cache", "ollama"}  # two models: the projectors are not models
    assert by_source["hf-cache"].mmproj == link.parent / "mmproj-tiny-F16.gguf"
    assert by_source["ollama"].mmproj == blob
