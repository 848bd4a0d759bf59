"""A model big enough to come in parallel parts, pulled into the library from the loopback hub."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from llama_wrangler.errors import ChecksumMismatchError
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.sources.hf_input import parse_hf_input
from llama_wrangler.sources.hf_pull import PullOptions, pull
from llama_wrangler.sources.machine import MachineResources
from tests.support.fake_hub import FakeHub, Fault
from tests.support.gguf_files import write_gguf

REPO = "org/parts-GGUF"
FILE = "parts-Q8_0.gguf"
BIG = MachineResources(ram_bytes=1 << 40)


@pytest.fixture
def big_gguf(hub: FakeHub, tmp_path: Path) -> Path:
    # 4 MiB of weights: four 1 MiB pieces over the default eight connections.
    path = write_gguf(tmp_path / FILE, name="parts",
                      tensors={"token_embd.weight": np.random.default_rng(1).random((1024, 1024), dtype=np.float32)})
    hub.add_repo(REPO, {FILE: path})
    return path


def test_a_big_model_arrives_in_parts_and_is_registered(hub: FakeHub, big_gguf: Path, library: Library,
                                                        app_paths: AppPaths, options: PullOptions) -> None:
    record = pull(parse_hf_input(f"hf:{REPO}:Q8_0"), paths=app_paths, library=library, options=options,
                  machine=BIG)
    assert record.sha256 == hashlib.sha256(big_gguf.read_bytes()).hexdigest()
    ranged = [r.range for r in hub.requests("GET") if "/cdn/" in r.path]
    assert len(ranged) > 1 and all(r is not None and r.count("-") == 1 and not r.endswith("-") for r in ranged)
    assert hub.bytes_sent(FILE) == big_gguf.stat().st_size


def test_wrong_bytes_in_one_part_never_enter_the_library(hub: FakeHub, big_gguf: Path, library: Library,
                                                         app_paths: AppPaths, options: PullOptions) -> None:
    hub.add_fault(FILE, Fault.corrupt())
    with pytest.raises(ChecksumMismatchError, match="corrupt"):
        pull(parse_hf_input(f"hf:{REPO}:Q8_0"), paths=app_paths, library=library, options=options, machine=BIG)
    assert library.models() == []
    assert list(app_paths.downloads_dir.iterdir()) == []
    assert not any(library.models_dir.rglob("*.gguf"))
