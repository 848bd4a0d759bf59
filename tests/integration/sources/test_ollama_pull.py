"""Pulls from the loopback Ollama registry (redirected to a second "CDN" port): placement and metadata,
resume, verification, and the errors a user sees."""

from __future__ import annotations

import hashlib

import pytest

from llama_wrangler.errors import ChecksumMismatchError, DownloadError, ModelImportError, SourceError
from llama_wrangler.library.origins import OllamaOrigin
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.sources.ollama_input import OllamaRequest, parse_ollama_input
from llama_wrangler.sources.ollama_pull import OllamaOptions, pull, target_path
from llama_wrangler.sources.partials import list_partials
from tests.support.fake_hub import Fault
from tests.support.fake_ollama import FakeOllama, PublishedTag
from tests.support.ollama_models import TEXTS


def _options(registry: FakeOllama, retries: int = 3) -> OllamaOptions:
    return OllamaOptions(registry.base, retries=retries, backoff_base_s=0.01)


REQUEST = OllamaRequest("llama3.2", "1b")


def test_pull_places_verifies_and_registers_with_metadata(registry: FakeOllama, published: PublishedTag,
                                                          gguf_bytes: bytes, app_paths: AppPaths,
                                                          library: Library) -> None:
    reports: list[Progress] = []
    record = pull(parse_ollama_input("ollama:llama3.2:1b"), paths=app_paths, library=library,
                  options=_options(registry), progress=reports.append)
    assert record.path == app_paths.models_dir / "ollama" / "library" / "llama3.2" / "1b.gguf"
    assert record.path.read_bytes() == gguf_bytes
    assert record.source == "ollama" and record.owned
    assert record.sha256 == published.model_sha256
    assert record.info.name == "Tiny Llama" and record.info.architecture == "llama"
    assert record.info.quant == "Q4_K_M"
    assert record.origin == OllamaOrigin(registry=registry.base, namespace="library", model="llama3.2",
                                         tag="1b", digest=published.model_digest, **TEXTS)
    assert reports[-1].done == reports[-1].total == len(gguf_bytes)
    # The registry redirected every blob GET to the CDN port, which served the bytes.
    cdn_paths = [r.path for r in registry.requests("cdn")]
    assert f"/blobs/{published.model_digest}?sig=loopback" in cdn_paths
    assert all("authorization" not in r.headers for r in registry.requests())
    manifest_get = next(r for r in registry.requests("registry") if "/manifests/" in r.path)
    assert manifest_get.headers["accept"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert list_partials(app_paths) == []
    # Known to a fresh library load (it was saved).
    assert Library(app_paths, hash_in_background=False).load().get(record.id).path == record.path


def test_second_pull_of_the_same_tag_downloads_nothing(registry: FakeOllama, published: PublishedTag,
                                                       app_paths: AppPaths, library: Library) -> None:
    first = pull(REQUEST, paths=app_paths, library=library, options=_options(registry))
    registry.reset_counters()
    again = pull(REQUEST, paths=app_paths, library=library, options=_options(registry))
    assert again.id == first.id
    assert not [r for r in registry.requests("cdn") if r.path.startswith(f"/blobs/{published.model_digest}")]


def test_cut_connection_is_retried_from_where_it_stopped(registry: FakeOllama, published: PublishedTag,
                                                         gguf_bytes: bytes, app_paths: AppPaths,
                                                         library: Library) -> None:
    registry.add_fault(published.model_digest, Fault.cut(100_000))
    record = pull(REQUEST, paths=app_paths, library=library, options=_options(registry))
    assert record.path.read_bytes() == gguf_bytes
    ranges = [r.range for r in registry.requests("cdn") if published.model_digest in r.path]
    assert ranges == [None, "bytes=100000-"]


def test_resume_after_giving_up_fetches_only_the_missing_bytes(registry: FakeOllama, published: PublishedTag,
                                                               gguf_bytes: bytes, app_paths: AppPaths,
                                                               library: Library) -> None:
    registry.add_fault(published.model_digest, Fault.cut(70_000))
    with pytest.raises(DownloadError, match="Run the download again to resume"):
        pull(REQUEST, paths=app_paths, library=library, options=_options(registry, retries=0))
    [partial] = list_partials(app_paths)
    assert partial.bytes_on_disk == 70_000
    assert partial.request_text == "ollama:llama3.2:1b"
    assert not target_path(library.models_dir, REQUEST).exists()
    registry.reset_counters()
    # A new process would do the same: a fresh library, the partial found on disk by its digest.
    fresh = Library(app_paths, hash_in_background=False).load()
    record = pull(parse_ollama_input(partial.request_text), paths=app_paths, library=fresh,
                  options=_options(registry))
    assert record.path.read_bytes() == gguf_bytes
    assert hashlib.sha256(record.path.read_bytes()).hexdigest() == published.model_sha256
    ranges = [r.range for r in registry.requests("cdn") if published.model_digest in r.path]
    assert ranges == ["bytes=70000-"]
    assert list_partials(app_paths) == []


def test_wrong_bytes_never_enter_the_library(registry: FakeOllama, published: PublishedTag,
                                             app_paths: AppPaths, library: Library) -> None:
    registry.add_fault(published.model_digest, Fault.corrupt())
    with pytest.raises(ChecksumMismatchError, match="the Ollama registry published"):
        pull(REQUEST, paths=app_paths, library=library, options=_options(registry))
    assert library.models() == []
    assert list_partials(app_paths) == []
    assert not any(app_paths.downloads_dir.iterdir())
    assert not target_path(library.models_dir, REQUEST).exists()


def test_digest_the_bytes_do_not_match_is_refused(registry: FakeOllama, gguf_bytes: bytes,
                                                  app_paths: AppPaths, library: Library) -> None:
    registry.publish("liar", "1b", gguf_bytes, model_digest="sha256:" + "0" * 64)
    with pytest.raises(ChecksumMismatchError):
        pull(OllamaRequest("liar", "1b"), paths=app_paths, library=library, options=_options(registry))
    assert library.models() == []
    assert not target_path(library.models_dir, OllamaRequest("liar", "1b")).exists()


def test_unknown_model_or_tag_is_a_clear_message(registry: FakeOllama, published: PublishedTag,
                                                 app_paths: AppPaths, library: Library) -> None:
    for request in (OllamaRequest("nosuch", "1b"), OllamaRequest("llama3.2", "70b")):
        with pytest.raises(SourceError, match=f"No such model/tag: {request.display}"):
            pull(request, paths=app_paths, library=library, options=_options(registry))
    assert library.models() == []


@pytest.mark.parametrize(("status", "text"), [(401, "refused access"), (503, r"server error \(503\)")])
def test_registry_refusals_are_reported(registry: FakeOllama, published: PublishedTag, app_paths: AppPaths,
                                        library: Library, status: int, text: str) -> None:
    registry.add_fault("library/llama3.2:1b", Fault.status(status))
    with pytest.raises(SourceError, match=text):
        pull(REQUEST, paths=app_paths, library=library, options=_options(registry))


def test_cdn_server_errors_are_retried(registry: FakeOllama, published: PublishedTag, gguf_bytes: bytes,
                                      app_paths: AppPaths, library: Library) -> None:
    registry.add_fault(published.model_digest, Fault.status(500), Fault.status(502))
    record = pull(REQUEST, paths=app_paths, library=library, options=_options(registry))
    assert record.path.read_bytes() == gguf_bytes


def test_hostile_manifest_digest_is_refused_before_any_request(registry: FakeOllama, app_paths: AppPaths,
                                                               library: Library) -> None:
    registry.set_manifest("library", "evil", "1b", {
        "schemaVersion": 2, "layers": [{"mediaType": "application/vnd.ollama.image.model",
                                        "digest": "sha256:../../../../manifests/x", "size": 10}]})
    with pytest.raises(SourceError, match="invalid layer digest"):
        pull(OllamaRequest("evil", "1b"), paths=app_paths, library=library, options=_options(registry))
    assert [r.path for r in registry.requests()] == ["/v2/library/evil/manifests/1b"]
    assert library.models() == []


def test_a_layer_that_is_not_gguf_is_deleted_not_registered(registry: FakeOllama, app_paths: AppPaths,
                                                            library: Library) -> None:
    registry.publish("notgguf", "1b", b"PK\x03\x04 this is a zip, not a model" * 40)
    with pytest.raises(ModelImportError, match="not a usable GGUF"):
        pull(OllamaRequest("notgguf", "1b"), paths=app_paths, library=library, options=_options(registry))
    assert library.models() == []
    assert not target_path(library.models_dir, OllamaRequest("notgguf", "1b")).exists()


def test_cancel_keeps_the_partial(registry: FakeOllama, published: PublishedTag, gguf_bytes: bytes,
                                  app_paths: AppPaths, library: Library) -> None:
    registry.add_fault(published.model_digest, Fault.slow(len(gguf_bytes) // 2))
    cancel = CancelToken()

    def on_progress(report: Progress) -> None:
        if report.stage == "download" and report.done > 0:
            cancel.cancel()

    with pytest.raises(Exception, match="Cancelled"):
        pull(REQUEST, paths=app_paths, library=library, options=_options(registry), progress=on_progress,
             cancel=cancel)
    [partial] = list_partials(app_paths)
    assert 0 < partial.bytes_on_disk < len(gguf_bytes)
    assert library.models() == []


def test_a_projector_layer_comes_with_the_model_and_is_paired(registry: FakeOllama, gguf_bytes: bytes,
                                                              app_paths: AppPaths, library: Library) -> None:
    projector_bytes = b"projector bytes" * 100
    tag = registry.publish("llava", "7b", gguf_bytes, projector=projector_bytes)
    projector = next(layer for layer in tag.manifest["layers"] if layer["mediaType"].endswith(".projector"))
    record = pull(OllamaRequest("llava", "7b"), paths=app_paths, library=library, options=_options(registry))
    assert isinstance(record.origin, OllamaOrigin) and record.origin.projector_digest == projector["digest"]
    assert record.mmproj == record.path.with_name("7b-mmproj.gguf")
    assert record.mmproj.read_bytes() == projector_bytes
    assert [m.id for m in library.models()] == [record.id]  # the projector is no model of its own
    assert list(app_paths.downloads_dir.iterdir()) == []
