"""What each model takes when several may be loaded: its prompt cache is bounded and counted, and the bound
reaches the server's command line; one model alone, or a limit the user set, is left as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.registry import Library, ModelRecord
from llama_wrangler.paths import AppPaths
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.memory import MiB, estimate_memory
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.model_needs import model_needs, prompt_cache_args, prompt_cache_bound
from llama_wrangler.settings import ImportMode, ServerSettings
from tests.support.tiny_models import write_tiny_llama_gguf


@pytest.fixture
def records(app_paths: AppPaths, tmp_path: Path) -> dict[str, ModelRecord]:
    files = [write_tiny_llama_gguf(tmp_path / f"{name}.gguf", name=name, n_ctx_train=4096)
             for name in ("alpha", "beta")]
    library = Library(app_paths, hash_in_background=False).load()
    imported = library.import_files(files, ImportMode.LINK)
    library.set_load_settings(imported[1].id, LoadSettings(extra_args="--cache-ram 300"))
    return {record.path.stem: record for record in library.models()}


def test_beside_others_the_default_prompt_cache_is_bounded_and_counted(records: dict[str, ModelRecord]) -> None:
    alpha, beta = records["alpha"], records["beta"]
    server = ServerSettings(context_size=4096, max_models=4)
    needs = model_needs(records.values(), server)
    estimate = estimate_memory(alpha.info, alpha.size_bytes, server)
    bound = estimate.bounded_prompt_cache_mib() * MiB
    assert needs[alpha.id].cache_bytes == bound and needs[alpha.id].cache_arg
    assert needs[alpha.id].ram_bytes == estimate.ram_bytes + bound
    # beta's own arguments set a limit: counted as set, and not passed again
    assert needs[beta.id].cache_bytes == 300 * MiB and not needs[beta.id].cache_arg
    assert prompt_cache_args(needs) == {alpha.id: bound // MiB}


@pytest.mark.parametrize("server", [ServerSettings(max_models=1), ServerSettings(stable_endpoint=False)],
                         ids=["one-at-a-time", "no-endpoint"])
def test_one_model_at_a_time_keeps_llama_servers_own_cache(records: dict[str, ModelRecord],
                                                           server: ServerSettings) -> None:
    needs = model_needs(records.values(), server)
    assert all(need.cache_bytes == 0 and not need.cache_arg for need in needs.values())
    assert prompt_cache_args(needs) == {}


def test_the_bound_follows_the_load_settings_a_model_starts_with(records: dict[str, ModelRecord]) -> None:
    alpha = records["alpha"]
    server = ServerSettings(context_size=1024)
    short = prompt_cache_bound(alpha, None, server)
    longer = prompt_cache_bound(alpha, LoadSettings(context_size=4096, parallel=2), server)
    assert short is not None and longer is not None and longer > short
    assert prompt_cache_bound(alpha, LoadSettings(extra_args="-cram 64"), server) is None  # its own limit
    assert prompt_cache_bound(alpha, None, server.model_copy(update={"max_models": 1})) is None


def test_the_bound_joins_the_arguments_the_model_would_start_with(qtbot: QtBot, tmp_path: Path) -> None:
    fleet = ServerFleet(ServerSupervisor(tmp_path / "llama-server", ServerSettings(extra_args="--mlock")))
    fleet.set_prompt_cache_bound(lambda model, _load: 12 if model == "alpha" else None)
    assert fleet.launch_load("alpha", None) == LoadSettings(extra_args="--mlock --cache-ram 12")
    own = LoadSettings(context_size=1024, extra_args="--no-mmap")  # a model's own arguments replace the global
    assert fleet.launch_load("alpha", own) == LoadSettings(context_size=1024, extra_args="--no-mmap --cache-ram 12")
    assert fleet.launch_load("beta", own) is own  # no bound for it: left as it is


@pytest.mark.parametrize("own", ["--cache_ram 64", "--cache-ram 32 --cache_ram 64"])
def test_a_limit_spelled_with_underscores_is_the_users_own(records: dict[str, ModelRecord], own: str) -> None:
    """llama-server reads ``--cache_ram`` as ``--cache-ram`` (it turns a long flag's underscores into dashes):
    the user set a limit, so none is added after it (the later flag would win over theirs)."""
    alpha = records["alpha"]
    server = ServerSettings(context_size=1024)
    assert prompt_cache_bound(alpha, LoadSettings(extra_args=own), server) is None
    need = model_needs([alpha], server.model_copy(update={"extra_args": own}))[alpha.id]
    assert need.cache_bytes == 64 * MiB and not need.cache_arg
