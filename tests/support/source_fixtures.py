"""pytest fixtures for tests that download from the loopback hub or Ollama registry (registered in
tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_hub import FakeHub
from tests.support.fake_ollama import FakeOllama, PublishedTag
from tests.support.hf_repos import PublishedGGUF, publish_gguf_repo
from tests.support.ollama_models import publish_tiny, tiny_gguf_bytes


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        yield server


@pytest.fixture
def gguf_repo(hub: FakeHub, tmp_path: Path) -> PublishedGGUF:
    return publish_gguf_repo(hub, tmp_path / "hub-src")


@pytest.fixture
def registry() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def gguf_bytes(tmp_path: Path) -> bytes:
    return tiny_gguf_bytes(tmp_path / "ollama-src")


@pytest.fixture
def published(registry: FakeOllama, gguf_bytes: bytes) -> PublishedTag:
    """``library/llama3.2:1b`` with template, params, system and license layers."""
    return publish_tiny(registry, gguf_bytes)
