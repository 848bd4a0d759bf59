"""pytest fixtures for tests that run the real llama-server (registered in tests/integration/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.tiny_models import write_corrupt_gguf, write_held_loading_gguf, write_tiny_llama_gguf


class TinyModels(NamedTuple):
    alpha: Path
    beta: Path
    corrupt: Path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """Two distinct servable tiny models and one with truncated tensor data."""
    folder = tmp_path_factory.mktemp("tiny-models")
    return TinyModels(
        alpha=write_tiny_llama_gguf(folder / "alpha.gguf", name="alpha", seed=1),
        beta=write_tiny_llama_gguf(folder / "beta.gguf", name="beta", seed=2, n_layer=3),
        corrupt=write_corrupt_gguf(folder / "corrupt.gguf"),
    )


@pytest.fixture(scope="session")
def held_loading_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model llama-server keeps loading (``/health`` 503) until it is stopped."""
    return write_held_loading_gguf(tmp_path_factory.mktemp("held-model"))


@pytest.fixture(scope="session")
def llama_server_binary(runtime_dir: Path) -> Path:
    from llama_wrangler.runtime.locate import runtime_from_dir

    return runtime_from_dir(runtime_dir).server
