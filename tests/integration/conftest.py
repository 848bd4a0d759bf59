"""Fixtures shared by the integration tests (real processes)."""

from __future__ import annotations

from tests.support.server_fixtures import llama_server_binary, slow_model, tiny_models

__all__ = ["llama_server_binary", "slow_model", "tiny_models"]
