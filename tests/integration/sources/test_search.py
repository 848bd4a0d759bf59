"""Searching the loopback hub: the search API as huggingface_hub calls it, the quants' fit badges, and
``llama-wrangler search`` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llama_wrangler.errors import InputParseError
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import HfRequest
from llama_wrangler.sources.hf_repo import inspect_repo
from llama_wrangler.sources.hf_search import SearchSort, quant_fits, search_hub
from llama_wrangler.sources.machine import Fit, MachineResources, estimate_memory
from tests.support.fake_hub import FakeHub
from tests.support.hf_repos import PublishedGGUF, publish_gguf_repo

POPULAR = "TheBloke/TinyLlama-1.1B-Chat-GGUF"
TRENDING = "newcomer/tinyllama-2-GGUF"


@pytest.fixture
def tiny_repos(hub: FakeHub, tmp_path: Path) -> PublishedGGUF:
    published = publish_gguf_repo(hub, tmp_path / "a", POPULAR)
    publish_gguf_repo(hub, tmp_path / "b", TRENDING)
    hub.add_repo("someone/tinyllama-safetensors", {"config.json": b"{}", "model.safetensors": b"x" * 2048})
    hub.add_repo("other/mistral-GGUF", {"m.gguf": b"GGUF" + b"\0" * 2000})
    hub.set_stats(POPULAR, downloads=50_000, likes=120, trending=1.0)
    hub.set_stats(TRENDING, downloads=300, likes=9, trending=80.0)
    return published


def test_search_lists_gguf_repos_in_the_order_asked(hub: FakeHub, tiny_repos: PublishedGGUF) -> None:
    access = HubAccess(hub.endpoint)
    by_downloads = search_hub(access, "tinyllama")
    assert [hit.repo_id for hit in by_downloads] == [POPULAR, TRENDING]  # no safetensors-only repo
    assert by_downloads[0].downloads == 50_000 and by_downloads[0].likes == 120
    by_trend = search_hub(access, "  TinyLlama ", sort=SearchSort.TRENDING)
    assert [hit.repo_id for hit in by_trend] == [TRENDING, POPULAR]
    assert search_hub(access, "no-such-model") == []
    with pytest.raises(InputParseError, match="Type something"):
        search_hub(access, "   ")


def test_each_quant_gets_a_fit_badge(hub: FakeHub, tiny_repos: PublishedGGUF) -> None:
    listing = inspect_repo(HfRequest(POPULAR), HubAccess(hub.endpoint), machine=MachineResources(ram_bytes=0))
    sizes = sorted(choice.size for choice in listing.choices)
    smallest, largest = sizes[0], sizes[-1]
    needed = {size: estimate_memory(size, 512) for size in sizes}
    # VRAM for the smallest only, RAM (within its share) for all but the largest.
    machine = MachineResources(ram_bytes=int(needed[sizes[-2]] / 0.8) + 1, vram_bytes=needed[smallest])
    fits = {quant.size: quant.fit for quant in quant_fits(listing, machine, 512)}
    assert fits[smallest] is Fit.VRAM
    assert fits[sizes[-2]] is Fit.RAM
    assert fits[largest] is Fit.TOO_LARGE


def test_the_search_command_lists_repos_and_quants(hub: FakeHub, tiny_repos: PublishedGGUF, app_home: Path) -> None:
    env = {**os.environ, "LLAMA_WRANGLER_HOME": str(app_home), "HF_HUB_DISABLE_XET": "1", "HF_ENDPOINT": hub.endpoint}
    done = subprocess.run([sys.executable, "-m", "llama_wrangler", "search", "tinyllama"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{POPULAR}  (50,000 downloads, 120 likes)"
    assert any("Q4_K_M" in line and "fits in" in line for line in lines)
    assert any("vision projector mmproj-tiny-F16.gguf" in line for line in lines)
    assert any(line.startswith(TRENDING) for line in lines)
