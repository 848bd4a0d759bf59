"""Pull options and a library per test; the loopback hub and Ollama registry fixtures come from
tests/support/source_fixtures.py (registered in tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_pull import PullOptions
from tests.support.fake_hub import FakeHub


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
