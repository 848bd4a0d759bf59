"""Typed origins: what each source stores, and registries written when origins were string dicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_wrangler.library.origins import (
    ConvertOrigin,
    HfOrigin,
    ImportOrigin,
    ModelSource,
    OllamaOrigin,
    StoreOrigin,
    origin_from_dict,
)
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import ImportMode
from tests.support.gguf_files import write_gguf

# An entry of each kind as registries wrote them before origins were typed: every value a string, a
# split set's files comma-joined, a linked store's name under the store's key.
OLD_ORIGINS: list[tuple[str, dict[str, str], object]] = [
    ("hf", {"repo": "org/m", "revision": "c" * 40, "file": "m-00001-of-00002.gguf", "quant": "Q2_K",
            "files": "m-00001-of-00002.gguf,m-00002-of-00002.gguf"},
     HfOrigin("org/m", "c" * 40, ("m-00001-of-00002.gguf", "m-00002-of-00002.gguf"), "Q2_K")),
    ("hf", {"repo": "org/m", "revision": "c" * 40, "file": "m-Q8_0.gguf", "quant": "Q8_0"},
     HfOrigin("org/m", "c" * 40, ("m-Q8_0.gguf",), "Q8_0")),
    ("hf-cache", {"repo": "org/m", "revision": "d" * 40, "file": "sub/m.gguf"},
     HfOrigin("org/m", "d" * 40, ("sub/m.gguf",))),
    ("ollama", {"registry": "https://registry.ollama.ai", "namespace": "library", "model": "llama3.2",
                "tag": "1b", "digest": "sha256:" + "e" * 64, "license": "MIT", "projector_digest": "sha256:f"},
     OllamaOrigin("https://registry.ollama.ai", "library", "llama3.2", "1b", "sha256:" + "e" * 64,
                  license="MIT", projector_digest="sha256:f")),
    ("ollama", {"ollama": "llama3.2:1b", "digest": "sha256:" + "e" * 64},
     StoreOrigin("llama3.2:1b", "sha256:" + "e" * 64)),
    ("lmstudio", {"lmstudio": "pub/repo/m.gguf"}, StoreOrigin("pub/repo/m.gguf")),
    ("import", {"imported_from": "/home/me/m.gguf", "mode": "link"},
     ImportOrigin("/home/me/m.gguf", ImportMode.LINK)),
    ("convert", {"repo": "org/m", "revision": "c" * 40, "files": "a.safetensors,b.safetensors",
                 "quant": "Q4_K_M", "outtype": "f16"},
     ConvertOrigin(quant="Q4_K_M", outtype="f16", repo="org/m", revision="c" * 40,
                   files=("a.safetensors", "b.safetensors"))),
    ("convert", {"from": "tiny-f16", "quant": "Q8_0"}, ConvertOrigin(quant="Q8_0", base="tiny-f16")),
    ("local", {}, None),
]


def test_a_registry_with_string_dict_origins_loads_typed(app_paths: AppPaths, tmp_path: Path) -> None:
    template = Library(app_paths, hash_in_background=False).load().import_files(
        [write_gguf(tmp_path / "m.gguf")], ImportMode.LINK)[0].to_dict()
    models = [{**template, "id": f"m{i}", "source": source, "origin": origin}
              for i, (source, origin, _typed) in enumerate(OLD_ORIGINS)]
    app_paths.registry_file.write_text(json.dumps({"schema_version": 1, "info_version": 99, "models": models,
                                                   "ignored": []}))
    lib = Library(app_paths, hash_in_background=False).load()
    assert lib.problem is None
    assert [(r.source, r.origin) for r in sorted(lib.models(), key=lambda r: int(r.id[1:]))] == [
        (ModelSource(source), typed) for source, _origin, typed in OLD_ORIGINS]
    # Saved in the new form, it reads back the same.
    lib.remove("m0", delete_file=False)
    again = Library(app_paths, hash_in_background=False).load()
    assert [r.origin for r in sorted(again.models(), key=lambda r: int(r.id[1:]))] == [
        typed for _source, _origin, typed in OLD_ORIGINS[1:]]


@pytest.mark.parametrize("origin", [typed for _s, _o, typed in OLD_ORIGINS if typed is not None])
def test_every_origin_survives_a_round_trip(origin: object) -> None:
    source = {HfOrigin: ModelSource.HF, OllamaOrigin: ModelSource.OLLAMA, StoreOrigin: ModelSource.LMSTUDIO,
              ImportOrigin: ModelSource.IMPORT, ConvertOrigin: ModelSource.CONVERT}[type(origin)]
    assert origin_from_dict(source, json.loads(json.dumps(origin.to_dict()))) == origin  # type: ignore[attr-defined]


def test_an_origin_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="'repo'"):
        origin_from_dict(ModelSource.HF, {"revision": "x", "file": "m.gguf"})
    with pytest.raises(ValueError, match="files"):
        origin_from_dict(ModelSource.HF, {"repo": "o/m", "revision": "x", "files": [1, 2]})


def test_a_source_keeps_its_string_on_disk() -> None:
    assert json.dumps(ModelSource.HF_CACHE) == '"hf-cache"'
    assert ModelSource("lmstudio") is ModelSource.LMSTUDIO and str(ModelSource.LMSTUDIO) == "lmstudio"


def test_register_refuses_an_origin_its_source_cannot_carry(app_paths: AppPaths) -> None:
    lib = Library(app_paths, hash_in_background=False).load()
    path = write_gguf(app_paths.models_dir / "m.gguf")
    with pytest.raises(TypeError, match="'hf' model cannot have a ImportOrigin"):
        lib.add_owned(path, source=ModelSource.HF, origin=ImportOrigin(str(path), ImportMode.COPY))
    assert lib.models() == []
