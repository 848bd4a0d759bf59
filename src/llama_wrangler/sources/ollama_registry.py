"""Talk to an Ollama registry (the Docker distribution protocol, v2): manifests, blob URLs, small text
layers — and the one place where its HTTP failures become our errors (Qt-free).

A manifest (schemaVersion 2) lists a ``config`` blob and ``layers``; each layer has a ``mediaType``
(``application/vnd.ollama.image.model|template|params|system|license|projector``), a ``digest``
(``sha256:<hex>``) and a ``size``. The model layer is a plain GGUF file. Every digest is checked to be
exactly ``sha256:`` + 64 hex digits before it goes into a URL or a file name, so a hostile manifest cannot
steer a request or a write.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import httpx

from llama_wrangler.errors import DownloadError, SourceError, WranglerError
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.transfer import SourceWording
from llama_wrangler.sources.transfer import status_error as transfer_status_error
from llama_wrangler.sources.transfer.net_words import host_of, network_words

MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_PREFIX = "application/vnd.ollama.image."
MODEL = MEDIA_PREFIX + "model"
PROJECTOR = MEDIA_PREFIX + "projector"
TEXT_LAYERS = ("template", "params", "system", "license")  # kept as origin metadata
MAX_MANIFEST_BYTES = 1 << 20
MAX_TEXT_LAYER_BYTES = 256 * 1024  # a license is ~10 KiB; anything this big is not metadata
PUBLISHER = "the Ollama registry"

_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str  # sha256:<64 hex>, checked
    size: int

    @property
    def sha256(self) -> str:
        return self.digest.removeprefix("sha256:")

    @property
    def kind(self) -> str:
        """``model``, ``template``, ``params``... (the media type's last part); '' for foreign types."""
        return self.media_type.removeprefix(MEDIA_PREFIX) if self.media_type.startswith(MEDIA_PREFIX) else ""


@dataclass(frozen=True)
class Manifest:
    request: OllamaRequest
    config: Layer | None
    layers: tuple[Layer, ...]

    def layer(self, kind: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.kind == kind), None)

    @property
    def model(self) -> Layer:
        found = self.layer("model")
        if found is None:
            raise SourceError(f"{self.request.display} has no GGUF model layer; it cannot be pulled.")
        return found

    @property
    def pull_size(self) -> int:
        """Bytes a pull downloads: the model layer and, for a vision model, its projector."""
        projector = self.layer("projector")
        return self.model.size + (projector.size if projector is not None else 0)


def manifest_url(base: str, request: OllamaRequest) -> str:
    return f"{base.rstrip('/')}/v2/{request.namespace}/{request.model}/manifests/{request.tag}"


def blob_url(base: str, request: OllamaRequest, digest: str) -> str:
    checked_digest(digest)
    return f"{base.rstrip('/')}/v2/{request.namespace}/{request.model}/blobs/{digest}"


def checked_digest(value: object) -> str:
    """``value`` if it is ``sha256:<64 lowercase hex>``; otherwise the manifest is refused."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise SourceError(f"The registry sent an invalid layer digest {str(value)[:80]!r}; refused.")
    return value


class OllamaWording(SourceWording):
    """The registry's words for failures on ``request`` (or on one ``what`` of it: "model layer")."""

    def __init__(self, request: OllamaRequest, what: str = "") -> None:
        name = request.display
        super().__init__(PUBLISHER, f"{what} of {name}" if what else name,
                         label=f"{request.model}:{request.tag} from {request.namespace}/{request.model}")
        self.request = request
        self.part = what

    def not_found(self) -> WranglerError:
        if self.part:
            return SourceError(f"The registry has no {self.what} (404).")
        return SourceError(f"No such model/tag: {self.request.display} is not in the Ollama registry.",
                           hint="Check the name and tag on ollama.com/library.")

    def refused(self, status: int) -> WranglerError:
        return SourceError(f"The Ollama registry refused access to {self.what} ({status}).",
                           hint="Private models need `ollama` itself; Llama Wrangler pulls public ones.")

    def rate_limited(self) -> str:
        return f"The Ollama registry is rate-limiting requests for {self.what}."

    def server_error(self, status: int) -> str:
        return f"The Ollama registry had a server error ({status}) for {self.what}."


def status_error(status: int, request: OllamaRequest, *, what: str = "",
                 headers: httpx.Headers | None = None) -> WranglerError:
    """Our error for an HTTP status from the registry (or the CDN it redirects to)."""
    return transfer_status_error(status, OllamaWording(request, what), headers)


def fetch_manifest(client: httpx.Client, base: str, request: OllamaRequest) -> Manifest:
    """GET and parse the manifest of ``request``."""
    try:
        response = client.get(manifest_url(base, request), headers={"Accept": MANIFEST_ACCEPT})
    except httpx.TransportError as exc:
        raise SourceError(network_words(exc, host_of(exc, base), check="the Ollama registry setting")) from exc
    if response.status_code != 200:
        raise status_error(response.status_code, request, headers=response.headers)
    if len(response.content) > MAX_MANIFEST_BYTES:
        raise SourceError(f"The manifest of {request.display} is implausibly large; refused.")
    try:
        raw = json.loads(response.content)
    except ValueError as exc:
        raise SourceError(f"The registry sent a manifest for {request.display} that is not JSON.") from exc
    return parse_manifest(raw, request)


def parse_manifest(raw: object, request: OllamaRequest) -> Manifest:
    """A :class:`Manifest` from decoded JSON; anything malformed is a :class:`SourceError`."""
    if not isinstance(raw, dict) or raw.get("schemaVersion") != 2:
        raise SourceError(f"The registry sent a manifest for {request.display} we do not understand "
                          "(expected schemaVersion 2).")
    layers = raw.get("layers")
    if not isinstance(layers, list):
        raise SourceError(f"The manifest of {request.display} lists no layers.")
    config = raw.get("config")
    return Manifest(request=request, config=_layer(config) if config is not None else None,
                    layers=tuple(_layer(item) for item in layers))


def fetch_text_layer(client: httpx.Client, base: str, request: OllamaRequest, layer: Layer) -> str:
    """A small text layer (template, params...), digest-checked. The client follows the registry's
    redirect to its CDN; we send no credentials, so none can leak to that other host."""
    if layer.size > MAX_TEXT_LAYER_BYTES:
        raise SourceError(f"The {layer.kind} layer of {request.display} is {layer.size} bytes; too big to keep "
                          "as metadata.")
    try:
        response = client.get(blob_url(base, request, layer.digest))
    except httpx.TransportError as exc:
        raise DownloadError(f"{network_words(exc, host_of(exc, base))} (the {layer.kind} of "
                            f"{request.display})") from exc
    if response.status_code != 200:
        raise status_error(response.status_code, request, what=f"{layer.kind} layer", headers=response.headers)
    body = response.content
    if len(body) != layer.size or hashlib.sha256(body).hexdigest() != layer.sha256:
        raise DownloadError(f"The {layer.kind} layer of {request.display} does not match its digest; "
                            "nothing was added.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"The {layer.kind} layer of {request.display} is not UTF-8 text.") from exc


def _layer(raw: object) -> Layer:
    if not isinstance(raw, dict):
        raise SourceError("The registry sent a manifest with a malformed layer.")
    media_type, size = raw.get("mediaType"), raw.get("size")
    if not isinstance(media_type, str) or isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise SourceError("The registry sent a manifest layer without a valid media type and size.")
    return Layer(media_type=media_type, digest=checked_digest(raw.get("digest")), size=size)

