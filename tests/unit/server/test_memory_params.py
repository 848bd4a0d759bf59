from __future__ import annotations

import pytest

from llama_wrangler.server.memory_params import MemoryParams, memory_params, parse_memory_args
from llama_wrangler.settings import ServerSettings


def parse(*args: str) -> MemoryParams:
    return parse_memory_args(list(args), n_ctx=4096, n_parallel=1, gpu_layers=-1)


def test_defaults_are_llama_cpps() -> None:
    params = parse()
    assert (params.type_k, params.type_v, params.flash_attn) == ("f16", "f16", None)
    assert (params.n_batch, params.n_ubatch, params.cache_ram_mib) == (2048, 512, 8192)
    assert params.kv_offload and params.fit and params.mmap
    assert not (params.swa_full or params.kv_unified or params.embeddings)


def test_settings_fields_and_extra_args() -> None:
    settings = ServerSettings(context_size=8192, parallel=3, gpu_layers=20,
                              extra_args="-ctk q8_0 --cache-type-v=q4_0 -fa off -ub 256 -b 1024 --swa-full")
    params = memory_params(settings)
    assert (params.n_ctx, params.n_parallel, params.gpu_layers) == (8192, 3, 20)
    assert (params.type_k, params.type_v, params.flash_attn) == ("q8_0", "q4_0", False)
    assert (params.n_ubatch, params.n_batch, params.swa_full) == (256, 1024, True)


@pytest.mark.parametrize(("args", "field", "value"), [
    (("-nkvo",), "kv_offload", False),
    (("--no-kv-offload", "--kv-offload"), "kv_offload", True),  # the later flag wins
    (("-kvu",), "kv_unified", True),
    (("-fa", "on"), "flash_attn", True),
    (("--flash-attn=auto",), "flash_attn", None),
    (("-fit", "off"), "fit", False),
    (("-cram", "-1"), "cache_ram_mib", -1),
    (("--embeddings",), "embeddings", True),
    (("--no-mmap",), "mmap", False),
    (("-ctk", "Q8_0"), "type_k", "q8_0"),
])
def test_memory_flags(args: tuple[str, ...], field: str, value: object) -> None:
    assert getattr(parse(*args), field) == value


def test_other_arguments_are_ignored() -> None:
    assert parse("--temp", "0.7", "--jinja", "--reasoning-format", "none") == parse()


@pytest.mark.parametrize(("args", "message"), [
    (("-ctk", "q3_x"), "unknown KV cache type"),
    (("-fa", "maybe"), "on, off or auto"),
    (("-ub", "0"), "at least 1"),
    (("-b", "many"), "not a whole number"),
    (("-ctv",), "needs a value"),
])
def test_unreadable_values_are_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(*args)
