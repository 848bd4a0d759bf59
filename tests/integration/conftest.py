"""Fixtures shared by the integration tests (real processes)."""

from __future__ import annotations

from tests.support.endpoint_fixtures import endpoint_models, serve_endpoint
from tests.support.server_fixtures import held_loading_model, llama_server_binary, tiny_models
from tests.support.source_fixtures import gguf_bytes, gguf_repo, hub, published, registry

__all__ = ["endpoint_models", "gguf_bytes", "gguf_repo", "held_loading_model", "hub", "llama_server_binary",
           "published", "registry", "serve_endpoint", "tiny_models"]
