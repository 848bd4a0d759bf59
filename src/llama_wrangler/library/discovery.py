"""Find models other tools already downloaded, to use them in place (read-only, never moved).

- Hugging Face cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``,
  else ``~/.cache/huggingface/hub``; files are ``models--org--name/snapshots/<rev>/**.gguf`` (symlinks
  into ``blobs/``, whose names are the files' sha256).
- Ollama: ``$OLLAMA_MODELS`` or ``~/.ollama/models``; ``manifests/<host>/<namespace>/<model>/<tag>`` JSON,
  whose ``application/vnd.ollama.image.model`` layer is ``blobs/sha256-<hex>`` — a plain GGUF file.
- LM Studio: ``~/.lmstudio/models`` and ``~/.cache/lm-studio/models`` (``publisher/repo/*.gguf``).

The environment is read when these functions are called, never at import.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from llama_wrangler.errors import GGUFError, ModelImportError, WranglerError
from llama_wrangler.library.gguf import read_gguf_set
from llama_wrangler.library.origins import HfOrigin, ModelSource, StoreOrigin
from llama_wrangler.library.projectors import PROJECTOR_ARCHITECTURES
from llama_wrangler.library.registry import Library, ModelRecord
from llama_wrangler.library.shards import group_shards, model_stem
from llama_wrangler.settings_env import hf_cache, ollama_models

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
OLLAMA_PROJECTOR_LAYER = "application/vnd.ollama.image.projector"
# Multimodal projectors are GGUF files too, but not models llama-server can serve on their own: they are
# paired with their model (the one beside them; Ollama's projector layer).
SKIPPED_ARCHITECTURES = PROJECTOR_ARCHITECTURES


@dataclass(frozen=True)
class FoundModel:
    source: ModelSource  # HF_CACHE, OLLAMA or LMSTUDIO
    name: str
    files: tuple[Path, ...]
    origin: HfOrigin | StoreOrigin
    sha256: str | None = None  # when the store names its blobs by content
    mmproj: Path | None = None  # its vision projector where the store keeps it apart (Ollama's layer)


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def hf_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    return Path(hf_cache(environ).value)


def ollama_dir(environ: Mapping[str, str] | None = None) -> Path:
    return Path(ollama_models(environ).value)


def lmstudio_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    home = _home(_env(environ))
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def _ggufs_under(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.rglob("*.gguf") if p.is_file())
    except OSError:
        return []


def discover_hf_cache(root: Path) -> list[FoundModel]:
    found: list[FoundModel] = []
    if not root.is_dir():
        return found
    for repo_dir in sorted(root.glob("models--*")):
        repo = repo_dir.name.removeprefix("models--").replace("--", "/")
        for snapshot in sorted((repo_dir / "snapshots").glob("*")):
            files = _ggufs_under(snapshot)
            try:
                groups = group_shards(files)
            except ModelImportError:
                continue  # an incomplete split download: nothing usable yet
            for group in groups:
                blob = group[0].resolve().name
                found.append(FoundModel(
                    ModelSource.HF_CACHE, model_stem(group[0]), group,
                    HfOrigin(repo=repo, revision=snapshot.name,
                             files=tuple(f.relative_to(snapshot).as_posix() for f in group)),
                    sha256=blob if _HEX64.match(blob) else None))
    return found


def discover_ollama(root: Path) -> list[FoundModel]:
    found: list[FoundModel] = []
    manifests = root / "manifests"
    if not manifests.is_dir():
        return found
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts
        if len(parts) != 4:
            continue
        host, namespace, model, tag = parts
        name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
        if host != "registry.ollama.ai":
            name = f"{host}/{namespace}/{model}:{tag}"
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            layers = data["layers"]
            digest = next(layer["digest"] for layer in layers if layer.get("mediaType") == OLLAMA_MODEL_LAYER)
        except (OSError, ValueError, KeyError, TypeError, StopIteration):
            continue
        algorithm, _, hexdigest = str(digest).partition(":")
        if algorithm != "sha256" or not _HEX64.match(hexdigest):
            continue  # never build a path from an unexpected digest
        blob = root / "blobs" / f"sha256-{hexdigest}"
        if blob.is_file():
            found.append(FoundModel(ModelSource.OLLAMA, name, (blob,), StoreOrigin(name, digest=str(digest)),
                                    sha256=hexdigest, mmproj=_ollama_projector(root, layers)))
    return found


def _ollama_projector(root: Path, layers: list[dict[str, object]]) -> Path | None:
    """The blob of a manifest's projector layer, when there is one on disk."""
    for layer in layers:
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_PROJECTOR_LAYER:
            algorithm, _, hexdigest = str(layer.get("digest")).partition(":")
            blob = root / "blobs" / f"sha256-{hexdigest}"
            if algorithm == "sha256" and _HEX64.match(hexdigest) and blob.is_file():
                return blob
    return None


def discover_lmstudio(roots: list[Path]) -> list[FoundModel]:
    found: list[FoundModel] = []
    for root in roots:
        try:
            groups = group_shards(_ggufs_under(root))
        except ModelImportError:
            continue
        for group in groups:
            found.append(FoundModel(ModelSource.LMSTUDIO, model_stem(group[0]), group,
                                    StoreOrigin(group[0].relative_to(root).as_posix())))
    return found


def discover_all(environ: Mapping[str, str] | None = None) -> list[FoundModel]:
    return (discover_hf_cache(hf_cache_dir(environ)) + discover_ollama(ollama_dir(environ))
            + discover_lmstudio(lmstudio_dirs(environ)))


def link_found(library: Library, found: list[FoundModel]) -> tuple[list[ModelRecord], list[str]]:
    """Register each found model in place (linked, not owned). Returns (new records, problems);
    models already in the library are left as they are."""
    linked: list[ModelRecord] = []
    problems: list[str] = []
    for item in found:
        if library.find_by_path(item.files[0]) is not None:
            continue
        try:
            info = read_gguf_set(item.files)
        except GGUFError as exc:
            problems.append(f"{item.source} {item.name}: {exc}")
            continue
        if info.architecture in SKIPPED_ARCHITECTURES:
            continue
        try:
            linked.append(library.register(item.files, source=item.source, owned=False, origin=item.origin,
                                           name=item.name, info=info, sha256=item.sha256, mmproj=item.mmproj))
        except WranglerError as exc:
            problems.append(f"{item.source} {item.name}: {exc}")
    return linked, problems
