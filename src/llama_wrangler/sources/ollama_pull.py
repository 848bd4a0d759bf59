"""Get a model from an Ollama registry into the library without Ollama (Qt-free; the CLI runs it in the
foreground).

manifest -> small text layers (template, params, system, license; digest-checked, kept as origin metadata)
-> the model layer's blob (a GGUF) through the same resumable, sha256-verified :class:`FileDownloader` the
Hub downloads use -> ``models/ollama/<namespace>/<model>/<tag>.gguf`` -> registered with source
``ollama``. The registry answers a blob GET with a redirect to its CDN; httpx follows it and re-sends the
``Range`` header, and we send no credentials, so nothing can leak to the other host.

Projector layers (vision models) are not downloaded: the library has no notion of a model's projector yet,
so only their digest is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from llama_wrangler.errors import GGUFError, ModelImportError
from llama_wrangler.library.origins import ModelSource, OllamaOrigin
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths, confined
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.disk import check_disk_space, same_filesystem
from llama_wrangler.sources.hf_download import ByteMeter, FileDownloader, RemoteFile
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.ollama_registry import (
    PUBLISHER,
    TEXT_LAYERS,
    Layer,
    Manifest,
    blob_url,
    fetch_manifest,
    fetch_text_layer,
    file_status_error,
)
from llama_wrangler.sources.partials import partial_size

SOURCE = "ollama"


@dataclass(frozen=True)
class OllamaOptions:
    registry: str  # base URL, e.g. https://registry.ollama.ai (settings ``downloads.ollama_registry``)
    retries: int = 5
    backoff_base_s: float = 0.5


def open_client() -> httpx.Client:
    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=60.0))


def target_path(models_dir: Path, request: OllamaRequest) -> Path:
    """Where a tag's GGUF lands; the parts were validated by the parser, and ``confined`` checks again."""
    return confined(models_dir, f"ollama/{request.namespace}/{request.model}/{request.tag}.gguf")


def remote_file(options: OllamaOptions, request: OllamaRequest, layer: Layer) -> RemoteFile:
    """The model layer as the downloader sees it; its download id hangs on the digest, so a restart (or a
    retag to the same bytes) resumes the same partial."""
    return RemoteFile(repo_id=f"{request.namespace}/{request.model}", revision=request.tag,
                      commit=layer.digest, path=f"{request.model}:{request.tag}",
                      url=blob_url(options.registry, request, layer.digest), size=layer.size,
                      sha256=layer.sha256, publisher=PUBLISHER)


def pull(request: OllamaRequest, *, paths: AppPaths, library: Library, options: OllamaOptions,
         progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
         manifest: Manifest | None = None) -> ModelRecord:
    """Download ``request``'s model layer (resuming a partial), verify it and register it."""
    client = open_client()
    try:
        manifest = manifest or fetch_manifest(client, options.registry, request)
        layer = manifest.model
        origin = _origin(client, options, manifest, layer)
        target = target_path(library.models_dir, request)
        if _already_have(library, target, layer):
            return _register(library, target, request, origin, layer)
        remote = remote_file(options, request, layer)
        on_disk = partial_size(paths, remote.download_id, remote.size)
        check_disk_space(paths.downloads_dir, layer.size - on_disk)
        if not same_filesystem(paths.downloads_dir, library.models_dir):
            check_disk_space(library.models_dir, layer.size)  # the finished file is copied there
        downloader = FileDownloader(paths, HubAccess(options.registry), retries=options.retries,
                                    backoff_base_s=options.backoff_base_s, client=client,
                                    errors=file_status_error(request))
        downloader.fetch(remote, target, meter=ByteMeter(progress, layer.size, 0, request.display),
                         cancel=cancel, sidecar={"source": SOURCE, "request": request.display})
    finally:
        client.close()
    return _register(library, target, request, origin, layer)


def _origin(client: httpx.Client, options: OllamaOptions, manifest: Manifest, layer: Layer) -> OllamaOrigin:
    request = manifest.request
    texts: dict[str, str] = {}
    for kind in TEXT_LAYERS:
        text_layer = manifest.layer(kind)
        if text_layer is not None:
            texts[kind] = fetch_text_layer(client, options.registry, request, text_layer)
    projector = manifest.layer("projector")  # only its digest: not downloaded (see the module docstring)
    return OllamaOrigin(registry=options.registry, namespace=request.namespace, model=request.model,
                        tag=request.tag, digest=layer.digest, **texts,
                        projector_digest=None if projector is None else projector.digest)


def _already_have(library: Library, target: Path, layer: Layer) -> bool:
    """The same bytes are in place from an earlier pull (the library knows them by this digest)."""
    if not target.is_file() or target.stat().st_size != layer.size:
        return False
    record = library.find_by_path(target)
    return record is not None and record.sha256 == layer.sha256


def _register(library: Library, target: Path, request: OllamaRequest, origin: OllamaOrigin,
              layer: Layer) -> ModelRecord:
    try:
        return library.register([target], source=ModelSource.OLLAMA, owned=True, origin=origin,
                                name=f"{request.model}-{request.tag}", sha256=layer.sha256)
    except GGUFError as exc:
        # The digest matched, so the registry really serves this; it is just not a model we can use.
        target.unlink(missing_ok=True)
        raise ModelImportError(f"{request.display}'s model layer is not a usable GGUF file ({exc}); it was "
                               "deleted.") from exc
