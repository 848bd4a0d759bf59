"""Fixtures shared by the integration tests (real processes)."""

from __future__ import annotations

from tests.support.server_fixtures import held_loading_model, llama_server_binary, tiny_models

__all__ = ["held_loading_model", "llama_server_binary", "tiny_models"]
