"""A loopback hub (and Ollama registry) per test, with the GGUF repos published."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_pull import PullOptions
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
def access(hub: FakeHub) -> HubAccess:
    return HubAccess(hub.endpoint)


@pytest.fixture
def options(access: HubAccess) -> PullOptions:
    return PullOptions(access, retries=3, backoff_base_s=0.01)


@pytest.fixture
def library(app_paths: AppPaths) -> Iterator[Library]:
    lib = Library(app_paths, hash_in_background=False).load()
    yield lib


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
