"""Grouping and naming rules for repo files, the memory estimate, token order and error mapping."""

from __future__ import annotations

import pytest

from llama_wrangler.settings import DownloadSettings, TokenSource
from llama_wrangler.sources.hf_errors import GATED_MESSAGE, GatedRepoAccessError, status_error
from llama_wrangler.sources.hf_hub import resolve_token
from llama_wrangler.sources.hf_repo import RepoEntry, group_gguf, quant_of
from llama_wrangler.sources.machine import KV_BYTES_PER_TOKEN, MachineResources, estimate_memory
from llama_wrangler.sources.transfer import TransientError


@pytest.mark.parametrize(("path", "quant"), [
    ("llama-2-7b.Q4_K_M.gguf", "Q4_K_M"),
    ("Meta-Llama-3-8B-Instruct-q8_0.gguf", "Q8_0"),
    ("model-IQ2_XXS.gguf", "IQ2_XXS"),
    ("Qwen3-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
    ("model-bf16.gguf", "BF16"),
    ("model-F16-00001-of-00002.gguf", "F16"),
    ("Q5_K_M/model-00001-of-00003.gguf", "Q5_K_M"),
    ("model-Q4_0.gguf", "Q4_0"),
    ("model-IQ4_NL.gguf", "IQ4_NL"),
    ("plain.gguf", "plain"),
])
def test_quant_from_file_name(path: str, quant: str) -> None:
    assert quant_of(path) == quant


def test_grouping_collapses_complete_split_sets_only() -> None:
    files = [RepoEntry(f"m-Q4_K_M-0000{i}-of-00003.gguf", 10) for i in (2, 1, 3)]
    files += [RepoEntry("m-Q8_0-00001-of-00002.gguf", 5)]  # shard 2 missing: not offered
    files += [RepoEntry("m-F16.gguf", 100), RepoEntry("mmproj-m-f16.gguf", 7), RepoEntry("README.md", 1)]
    choices, projectors = group_gguf(files)
    assert [(c.quant, c.size, len(c.files)) for c in choices] == [("Q4_K_M", 30, 3), ("F16", 100, 1)]
    assert choices[0].files[0].path == "m-Q4_K_M-00001-of-00003.gguf"
    assert [p.files[0].path for p in projectors] == ["mmproj-m-f16.gguf"]


def test_memory_estimate_formula() -> None:
    assert estimate_memory(1000, 10) == int((1000 + 10 * KV_BYTES_PER_TOKEN) * 1.1)
    assert estimate_memory(1000, 0) == estimate_memory(1000, 4096)
    assert MachineResources(ram_bytes=0, vram_bytes=100).fits(100)
    assert not MachineResources(ram_bytes=100).fits(81)
    # A pool's workers take offloaded layers as GPUs do: their memory adds to the VRAM side.
    assert MachineResources(ram_bytes=0, vram_bytes=60, pooled_bytes=40).fits(100)
    assert not MachineResources(ram_bytes=0, vram_bytes=60, pooled_bytes=39).fits(100)


def test_token_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llama_wrangler.settings_env.get_token", lambda: "from-login")
    settings = DownloadSettings(hf_token="from-settings")
    assert resolve_token(settings, {"HF_TOKEN": "from-env"}) == "from-settings"
    settings.hf_token = ""
    assert resolve_token(settings, {"HF_TOKEN": "from-env"}) == "from-env"
    assert resolve_token(settings, {}) == "from-login"
    settings.token_source = TokenSource.SETTINGS
    assert resolve_token(settings, {"HF_TOKEN": "from-env"}) is None
    settings.token_source = TokenSource.ENVIRONMENT
    assert resolve_token(settings, {}) is None


def test_status_mapping() -> None:
    assert isinstance(status_error(401, repo_id="o/r", error_code="GatedRepo"), GatedRepoAccessError)
    assert str(status_error(403, repo_id="o/r", error_code="GatedRepo")) == GATED_MESSAGE
    transient = status_error(429, repo_id="o/r", retry_after=3)
    assert isinstance(transient, TransientError) and transient.retry_after == 3
    assert isinstance(status_error(502, repo_id="o/r"), TransientError)
    assert "x.gguf does not exist in o/r at main" in str(status_error(404, repo_id="o/r", file="x.gguf",
                                                                       revision="main"))


def test_resumed_bytes_move_the_bar_not_the_speed() -> None:
    from llama_wrangler.progress import Progress
    from llama_wrangler.sources.transfer import ByteMeter

    reports: list[Progress] = []
    meter = ByteMeter(reports.append, total=1000, done=0, label="x")
    meter.credit(600)
    assert reports[-1].done == 600
    assert reports[-1].bytes_per_second is None
