"""A loopback Ollama registry and its "CDN" (two ports, like the real registry.ollama.ai and the host its
blob GETs redirect to), misbehaving on demand (see docs/TESTING.md "Loopback servers").

Registry port:

- ``GET /v2/{ns}/{model}/manifests/{tag}`` -> the schemaVersion 2 manifest (404 ``MANIFEST_UNKNOWN``);
- ``HEAD /v2/{ns}/{model}/blobs/sha256:<hex>`` -> size; ``GET`` -> 307 to the CDN port.

CDN port: ``GET /blobs/sha256:<hex>?sig=...`` serves the bytes and honours ``Range`` (206 + Content-Range).

Faults (:class:`tests.support.loopback.Fault`) are queued per key and consumed one per request: a blob's
digest for CDN GETs (``cut``, ``corrupt``, ``status``, ``slow``), ``"ns/model:tag"`` for manifest GETs
(``status``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import FaultState, LoopbackServers, QuietHandler

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
LAYER = "application/vnd.ollama.image."
CHUNK = 64 * 1024


@dataclass(frozen=True)
class OllamaRequestRecord:
    port: str  # "registry" | "cdn"
    method: str
    path: str
    range: str | None
    status: int
    headers: dict[str, str]


@dataclass(frozen=True)
class PublishedTag:
    manifest: dict[str, Any]
    model_digest: str

    @property
    def model_sha256(self) -> str:
        return self.model_digest.removeprefix("sha256:")


@dataclass
class _State(FaultState):
    manifests: dict[str, bytes] = field(default_factory=dict)  # "ns/model:tag" -> body
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes
    repo_blobs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # "ns/model" -> digests
    requests: list[OllamaRequestRecord] = field(default_factory=list)
    cdn_base: str = ""


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeOllama(LoopbackServers):
    """``with FakeOllama() as registry:``; ``registry.base`` goes into settings ``downloads.ollama_registry``."""

    state: _State

    def __init__(self) -> None:
        super().__init__(_Handler, _State(), ("registry", "cdn"), "fake-ollama")
        self.state.cdn_base = self._url("cdn")

    @property
    def base(self) -> str:
        return self._url("registry")

    @property
    def cdn(self) -> str:
        return self.state.cdn_base

    # -- content -----------------------------------------------------------------------------------------
    def publish(self, model: str, tag: str, gguf: bytes, *, namespace: str = "library",
                text_layers: dict[str, str] | None = None, projector: bytes | None = None,
                model_digest: str | None = None) -> PublishedTag:
        """Publish a tag whose model layer is ``gguf``; ``text_layers`` maps ``template``/``params``/...
        to their text. ``model_digest`` publishes a deliberately wrong digest for the model bytes."""
        layers: list[tuple[str, bytes, str | None]] = [("model", gguf, model_digest)]
        layers += [(kind, text.encode(), None) for kind, text in (text_layers or {}).items()]
        if projector is not None:
            layers.append(("projector", projector, None))
        config = json.dumps({"model_format": "gguf", "model_family": "llama"}).encode()
        entries = []
        with self.state.lock:
            for kind, data, forced in [("config", config, None), *layers]:
                digest = forced or digest_of(data)
                self.state.blobs[digest] = data
                self.state.repo_blobs[f"{namespace}/{model}"].add(digest)
                media = "application/vnd.docker.container.image.v1+json" if kind == "config" else LAYER + kind
                entries.append({"mediaType": media, "digest": digest, "size": len(data)})
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": entries[0], "layers": entries[1:]}
        self.set_manifest(namespace, model, tag, manifest)
        return PublishedTag(manifest, str(entries[1]["digest"]))

    def set_manifest(self, namespace: str, model: str, tag: str, manifest: dict[str, Any] | bytes) -> None:
        """Serve ``manifest`` as it is (a hostile one, for tests that it is refused)."""
        body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        with self.state.lock:
            self.state.manifests[f"{namespace}/{model}:{tag}"] = body

    def requests(self, port: str | None = None) -> list[OllamaRequestRecord]:
        with self.state.lock:
            return [r for r in self.state.requests if port is None or r.port == port]

    def reset_counters(self) -> None:
        with self.state.lock:
            self.state.requests.clear()


class _Handler(QuietHandler):
    server_version = "FakeOllama/1.0"

    @property
    def state(self) -> _State:
        return self.server.state  # type: ignore[attr-defined, no-any-return]

    def _dispatch(self, *, head: bool) -> None:
        segments = [s for s in urlsplit(self.path).path.split("/") if s]
        try:
            if self.server.kind == "cdn":  # type: ignore[attr-defined]
                if len(segments) == 2 and segments[0] == "blobs":
                    self._cdn(segments[1], head=head)
                else:
                    self._error(404, "BLOB_UNKNOWN")
            elif len(segments) == 5 and segments[0] == "v2" and segments[3] == "manifests":
                self._manifest(segments[1], segments[2], segments[4])
            elif len(segments) == 5 and segments[0] == "v2" and segments[3] == "blobs":
                self._blob(f"{segments[1]}/{segments[2]}", segments[4], head=head)
            else:
                self._error(404, "NAME_UNKNOWN")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _record(self, status: int) -> None:
        with self.state.lock:
            self.state.requests.append(OllamaRequestRecord(
                self.server.kind, self.command, self.path, self.headers.get("Range"), status,  # type: ignore[attr-defined]
                {k.lower(): v for k, v in self.headers.items()}))

    def _error(self, status: int, code: str) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _manifest(self, namespace: str, model: str, tag: str) -> None:
        key = f"{namespace}/{model}:{tag}"
        fault = self.state.next_fault(key)
        if fault is not None and fault.kind == "status":
            self._error(fault.value, "DENIED" if fault.value in (401, 403) else "UNAVAILABLE")
            return
        with self.state.lock:
            body = self.state.manifests.get(key)
        if body is None:
            self._error(404, "MANIFEST_UNKNOWN")
            return
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", MANIFEST_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _blob(self, repo: str, digest: str, *, head: bool) -> None:
        with self.state.lock:
            data = self.state.blobs.get(digest) if digest in self.state.repo_blobs.get(repo, set()) else None
        if data is None:
            self._error(404, "BLOB_UNKNOWN")
            return
        if head:
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return
        # Like the real registry: a signed, short-lived link on another host.
        self._record(307)
        self.send_response(307)
        self.send_header("Location", f"{self.state.cdn_base}/blobs/{digest}?sig=loopback")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _cdn(self, digest: str, *, head: bool) -> None:
        with self.state.lock:
            data = self.state.blobs.get(digest)
        if data is None:
            self._error(404, "BLOB_UNKNOWN")
            return
        fault = None if head else self.state.next_fault(digest)
        if fault is not None and fault.kind == "status":
            self._error(fault.value, "UNAVAILABLE")
            return
        start = _range_start(self.headers.get("Range"))
        if start is not None and start >= len(data):
            self._error(416, "RANGE")
            return
        status = 206 if start is not None else 200
        body = data[start or 0:]
        if fault is not None and fault.kind == "corrupt":
            body = bytes(b ^ 0xFF for b in body[:16]) + body[16:]
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if head:
            return
        if fault is not None and fault.kind == "cut":
            self.wfile.write(body[:fault.value])
            self.wfile.flush()
            self.close_connection = True
            return
        for offset in range(0, len(body), CHUNK):
            self.wfile.write(body[offset:offset + CHUNK])
            if fault is not None and fault.kind == "slow":
                self.wfile.flush()
                time.sleep(CHUNK / fault.value)


def _range_start(value: str | None) -> int | None:
    if not value or not value.startswith("bytes=") or not value.endswith("-"):
        return None
    try:
        return int(value[len("bytes="):-1])
    except ValueError:
        return None
