"""Get a model from an Ollama registry into the library without Ollama (Qt-free; the CLI runs it in the
foreground).

manifest -> small text layers (template, params, system, license; digest-checked, kept as origin metadata)
-> the model layer's blob (a GGUF) through the transfer layer (:mod:`llama_wrangler.sources.transfer`:
resumable, sha256-verified, like every download) -> ``models/ollama/<namespace>/<model>/<tag>.gguf`` ->
registered with source ``ollama``. The registry answers a blob GET with a redirect to its CDN; the
downloader follows it with the ``Range`` header, and the blob has no auth origin, so no credentials go
anywhere.

A vision model's projector layer comes with it (``<tag>-mmproj.gguf`` beside the model) and is paired
with it in the library (served with ``--mmproj``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from llama_wrangler.errors import GGUFError, ModelImportError, SourceError
from llama_wrangler.library.origins import ModelSource, OllamaOrigin
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths, confined
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.machine import MachineResources
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.ollama_registry import (
    TEXT_LAYERS,
    Layer,
    Manifest,
    OllamaWording,
    blob_url,
    fetch_manifest,
    fetch_text_layer,
)
from llama_wrangler.sources.transfer import (
    DEFAULT_PARTS,
    DEFAULT_STALL_S,
    DownloadsFolder,
    FetchItem,
    FileDownloader,
    RangedParts,
    RemoteFile,
    RetryPolicy,
    fetch_files,
    forget_done,
    open_client,
)

SOURCE = "ollama"


@dataclass(frozen=True)
class OllamaOptions:
    registry: str  # base URL, e.g. https://registry.ollama.ai (settings ``downloads.ollama_registry``)
    retries: int = 5
    backoff_base_s: float = 0.5
    connections: int = DEFAULT_PARTS  # per file (settings ``downloads.connections``)
    stall_s: float = DEFAULT_STALL_S


def target_path(models_dir: Path, request: OllamaRequest) -> Path:
    """Where a tag's GGUF lands; the parts were validated by the parser, and ``confined`` checks again."""
    return confined(models_dir, f"ollama/{request.namespace}/{request.model}/{request.tag}.gguf")


def projector_path(models_dir: Path, request: OllamaRequest) -> Path:
    """Where a tag's vision projector lands: beside its model, named after it."""
    return confined(models_dir, f"ollama/{request.namespace}/{request.model}/{request.tag}-mmproj.gguf")


def remote_file(options: OllamaOptions, request: OllamaRequest, layer: Layer) -> RemoteFile:
    """A layer as the transfer layer sees it. Its key hangs on the digest (and on the name, as it
    always has, so partials from earlier versions still resume)."""
    suffix = "" if layer.kind == "model" else f" {layer.kind}"
    return RemoteFile(url=blob_url(options.registry, request, layer.digest), size=layer.size,
                      name=f"{request.model}:{request.tag}{suffix}", sha256=layer.sha256,
                      key=f"{request.namespace}/{request.model}\n{request.model}:{request.tag}\n{layer.sha256}")


def fetch_item(options: OllamaOptions, request: OllamaRequest, layer: Layer, target: Path) -> FetchItem:
    """The model layer as one item of :func:`~llama_wrangler.sources.transfer.fetch_files`. Its sidecar
    uses the fields :func:`~llama_wrangler.sources.partials.list_partials` reads (``request`` says how to
    resume it)."""
    describe = {"repo_id": f"{request.namespace}/{request.model}", "revision": request.tag,
                "commit": layer.digest, "file": f"{request.model}:{request.tag}", "etag": None,
                "source": SOURCE, "request": request.display}
    return FetchItem(remote_file(options, request, layer), target, OllamaWording(request, f"{layer.kind} layer"),
                     describe=describe)


@dataclass(frozen=True)
class OllamaListing:
    """What an Ollama name holds, looked up before any download: the manifest (model layer, projector...)
    and the machine its size is judged against."""

    request: OllamaRequest
    manifest: Manifest
    machine: MachineResources

    @property
    def size(self) -> int:
        """Bytes a pull downloads: the model layer and, for a vision model, its projector."""
        return self.manifest.pull_size


def inspect_ollama(request: OllamaRequest, options: OllamaOptions, machine: MachineResources) -> OllamaListing:
    """Fetch ``request``'s manifest (the same inspect step Hugging Face repos get): a missing model or tag
    fails here, in the dialog, and not later in the Downloads list."""
    with open_client() as client:
        manifest = fetch_manifest(client, options.registry, request)
    listing = OllamaListing(request, manifest, machine)
    if listing.size <= 0:  # reading .size raises for a manifest without a GGUF layer: it says so now
        raise SourceError(f"{request.display} has an empty model layer; it cannot be pulled.")
    return listing


def pull(request: OllamaRequest, *, paths: AppPaths, library: Library, options: OllamaOptions,
         progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
         manifest: Manifest | None = None) -> ModelRecord:
    """Download ``request``'s model layer (resuming a partial), verify it and register it."""
    with open_client() as client:
        manifest = manifest or fetch_manifest(client, options.registry, request)
        layer = manifest.model
        origin = _origin(client, options, manifest, layer)
        target = target_path(library.models_dir, request)
        projector = manifest.layer("projector")
        mmproj = projector_path(library.models_dir, request) if projector is not None else None
        items = [fetch_item(options, request, layer, target)]
        if projector is not None and mmproj is not None:
            items.append(fetch_item(options, request, projector, mmproj))
        if _already_have(library, target, layer) and all(i.target.is_file() for i in items):
            return _register(library, target, request, origin, layer, mmproj)
        downloader = FileDownloader(DownloadsFolder(paths), client=client,
                                    retry=RetryPolicy(options.retries, options.backoff_base_s),
                                    ranged=RangedParts(options.connections, options.stall_s))
        place = downloader.place
        fetch_files(downloader, items, label=request.display, progress=progress, cancel=cancel)
    record = _register(library, target, request, origin, layer, mmproj)
    forget_done(place, items)
    return record


def _origin(client: httpx.Client, options: OllamaOptions, manifest: Manifest, layer: Layer) -> OllamaOrigin:
    request = manifest.request
    texts: dict[str, str] = {}
    for kind in TEXT_LAYERS:
        text_layer = manifest.layer(kind)
        if text_layer is not None:
            texts[kind] = fetch_text_layer(client, options.registry, request, text_layer)
    projector = manifest.layer("projector")
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
              layer: Layer, mmproj: Path | None) -> ModelRecord:
    try:
        return library.register([target], source=ModelSource.OLLAMA, owned=True, origin=origin,
                                name=f"{request.model}-{request.tag}", sha256=layer.sha256, mmproj=mmproj)
    except GGUFError as exc:
        # The digest matched, so the registry really serves this; it is just not a model we can use.
        target.unlink(missing_ok=True)
        raise ModelImportError(f"{request.display}'s model layer is not a usable GGUF file ({exc}); it was "
                               "deleted.") from exc
