"""Ollama manifests parsed (and hostile ones refused), and registry statuses mapped to our errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llama_wrangler.errors import SourceError
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.ollama_registry import blob_url, manifest_url, parse_manifest, status_error
from llama_wrangler.sources.transfer import TransientError

REQUEST = OllamaRequest("llama3.2", "1b")
HEX = "ab" * 32


def _manifest(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": "sha256:" + "cd" * 32, "size": 10},
            "layers": list(layers)}


def _layer(kind: str, digest: str | None = f"sha256:{HEX}", size: Any = 100) -> dict[str, Any]:
    return {"mediaType": f"application/vnd.ollama.image.{kind}", "digest": digest, "size": size}


def test_manifest_layers_by_kind() -> None:
    manifest = parse_manifest(_manifest(_layer("model", size=1234), _layer("template", "sha256:" + "01" * 32),
                                        _layer("license", "sha256:" + "02" * 32)), REQUEST)
    assert manifest.model.size == 1234
    assert manifest.model.sha256 == HEX
    assert [layer.kind for layer in manifest.layers] == ["model", "template", "license"]
    assert manifest.layer("params") is None
    assert manifest.config is not None and manifest.config.kind == ""


def test_manifest_without_model_layer_cannot_be_pulled() -> None:
    manifest = parse_manifest(_manifest(_layer("template")), REQUEST)
    with pytest.raises(SourceError, match="no GGUF model layer"):
        _ = manifest.model


@pytest.mark.parametrize("raw", [
    [],
    {"schemaVersion": 1, "layers": []},
    {"schemaVersion": 2},
    _manifest("not a layer"),  # type: ignore[arg-type]
    _manifest(_layer("model", digest="sha256:../../../etc/passwd")),
    _manifest(_layer("model", digest="sha256:" + "AB" * 32)),  # we only accept the canonical lowercase form
    _manifest(_layer("model", digest="sha512:" + "ab" * 64)),
    _manifest(_layer("model", digest=f"sha256:{HEX}/../x")),
    _manifest(_layer("model", digest=None)),
    _manifest(_layer("model", size=-1)),
    _manifest(_layer("model", size="100")),
    _manifest(_layer("model", size=True)),
    _manifest({"digest": f"sha256:{HEX}", "size": 1}),
], ids=["list", "v1", "no-layers", "layer-not-dict", "digest-traversal", "digest-upper", "sha512",
        "digest-suffix", "digest-missing", "size-negative", "size-text", "size-bool", "no-media-type"])
def test_malformed_or_hostile_manifests_are_refused(raw: Any) -> None:
    with pytest.raises(SourceError):
        parse_manifest(raw, REQUEST)


def test_urls_follow_the_distribution_protocol() -> None:
    assert manifest_url("http://r/", REQUEST) == "http://r/v2/library/llama3.2/manifests/1b"
    assert blob_url("http://r", REQUEST, f"sha256:{HEX}") == f"http://r/v2/library/llama3.2/blobs/sha256:{HEX}"
    with pytest.raises(SourceError):
        blob_url("http://r", REQUEST, "sha256:../manifests/x")


@pytest.mark.parametrize(("status", "kind", "text"), [
    (404, SourceError, "No such model/tag: ollama:llama3.2:1b"),
    (401, SourceError, "refused access"),
    (403, SourceError, "refused access"),
    (429, TransientError, "rate-limiting"),
    (500, TransientError, "server error (500)"),
    (503, TransientError, "server error (503)"),
    (418, SourceError, "answered 418"),
])
def test_statuses_map_to_our_errors(status: int, kind: type[Exception], text: str) -> None:
    error = status_error(status, REQUEST)
    assert type(error) is kind
    assert text in str(error)


def test_missing_layer_is_not_reported_as_a_missing_model() -> None:
    assert "no model layer of ollama:llama3.2:1b" in str(status_error(404, REQUEST, what="model layer"))


def test_retry_after_is_carried_for_transient_errors() -> None:
    error = status_error(503, REQUEST, headers=httpx.Headers({"Retry-After": "7"}))
    assert isinstance(error, TransientError) and error.retry_after == 7.0
