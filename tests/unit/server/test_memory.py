"""The memory estimate against what llama-server (b11312) reported for the same model and settings.

The expected numbers in ``MEASURED`` are llama-server's own log lines ("KV buffer size", "compute buffer
size", n_ctx) for a generated llama model of this shape (``bench/memory.py`` regenerates them); the
integration test ``tests/integration/test_memory_estimate.py`` checks the same against a live server.
"""

from __future__ import annotations

from typing import Any

import pytest

from llama_wrangler.library.gguf import GGUFInfo
from llama_wrangler.server.memory import GPU_CONTEXT_BYTES, RUNTIME_BYTES, estimate_memory
from llama_wrangler.settings import ServerSettings

MiB = 1024 * 1024


def make_info(arch: str = "llama", *, n_layer: int = 8, n_embd: int = 512, n_head: int = 8,
              n_head_kv: int | None = 4, n_ff: int = 2048, n_vocab: int = 2000, n_ctx_train: int | None = 8192,
              header_size: int = 0, parameter_count: int = 0, **meta: Any) -> GGUFInfo:
    """A header as the reader would return it; ``meta`` keys are ``{arch}.`` keys with ``__`` for dots."""
    metadata: dict[str, Any] = {f"{arch}.feed_forward_length": n_ff}
    metadata.update({f"{arch}.{key.replace('__', '.')}": value for key, value in meta.items()})
    return GGUFInfo(version=3, architecture=arch, name="shape", parameter_count=parameter_count,
                    size_label=None, file_type=1, quant="F16", context_length=n_ctx_train, block_count=n_layer,
                    embedding_length=n_embd, head_count=n_head, head_count_kv=n_head_kv, vocab_size=n_vocab,
                    tensor_count=0, kv_count=0, has_chat_template=False, split_no=0, split_count=1,
                    alignment=32, header_size=header_size, metadata=metadata)


# The generated "big" model of bench/memory.py (n_embd 512, 8 layers, 8 heads, 4 KV heads, n_ff 2048,
# vocab 2000, F16): (context, parallel, extra args) -> llama-server's n_ctx, KV MiB, compute MiB.
MEASURED = [
    (2048, 1, "", 2048, 16.00, 18.01),
    (4096, 2, "-ctk q8_0 -ctv q8_0", 4096, 17.00, 17.04),
    (2048, 1, "-fa off", 2048, 16.00, 42.01),
    (1000, 3, "", 1536, 12.00, 16.54),
    (8192, 1, "", 8192, 64.00, 24.01),
    (8192, 4, "-fa off -ub 128", 8192, 64.00, 10.50),
]


@pytest.mark.parametrize(("context", "parallel", "extra", "n_ctx", "kv_mib", "compute_mib"), MEASURED)
def test_matches_what_llama_server_reported(context: int, parallel: int, extra: str, n_ctx: int,
                                            kv_mib: float, compute_mib: float) -> None:
    info = make_info(header_size=50_000)
    settings = ServerSettings(context_size=context, parallel=parallel, extra_args=extra)
    estimate = estimate_memory(info, 50_000 + 64 * MiB, settings)
    assert estimate.n_ctx == n_ctx
    assert estimate.kv_bytes == kv_mib * MiB  # the KV cache is exact
    assert estimate.weights_bytes == 64 * MiB  # the file less its header: what llama.cpp maps
    assert estimate.compute_bytes == pytest.approx(compute_mib * MiB, rel=0.06)


def test_context_is_padded_to_256_per_slot() -> None:
    estimate = estimate_memory(make_info(), 0, ServerSettings(context_size=1000, parallel=3))
    assert (estimate.n_ctx, estimate.n_ctx_slot) == (1536, 512)  # 1024 / 3 -> 341 -> 512 per slot
    one = estimate_memory(make_info(), 0, ServerSettings(context_size=300, parallel=1))
    assert (one.n_ctx, one.n_ctx_slot) == (512, 512)


def test_unified_kv_cache_shares_one_context() -> None:
    estimate = estimate_memory(make_info(), 0, ServerSettings(context_size=1000, parallel=3, extra_args="-kvu"))
    assert (estimate.n_ctx, estimate.n_ctx_slot) == (1024, 1024)
    assert estimate.kv_bytes == 8 * 1024 * (256 + 256) * 2  # layers × cells × (K + V) × f16


def test_model_context_means_training_context_for_every_slot() -> None:
    info = make_info(n_ctx_train=2048)
    assert estimate_memory(info, 0, ServerSettings(context_size=0, parallel=2)).n_ctx == 4096
    # --fit off: llama.cpp shares the training context between the slots instead
    assert estimate_memory(info, 0, ServerSettings(context_size=0, parallel=2, extra_args="-fit off")).n_ctx == 2048
    assert estimate_memory(info, 0, ServerSettings(context_size=0), n_ctx_train=1024).n_ctx == 1024


def test_model_context_without_training_context_is_an_error() -> None:
    with pytest.raises(ValueError, match="training context"):
        estimate_memory(make_info(n_ctx_train=None), 0, ServerSettings(context_size=0))


def test_header_without_layers_is_an_error() -> None:
    with pytest.raises(ValueError, match="layer count"):
        estimate_memory(make_info(n_layer=0), 0, ServerSettings())


def test_kv_cache_types_scale_the_cache() -> None:
    settings = ServerSettings(context_size=4096)
    f16 = estimate_memory(make_info(), 0, settings).kv_bytes
    q8 = estimate_memory(make_info(), 0, settings.model_copy(update={"extra_args": "-ctk q8_0 -ctv q8_0"}))
    q4k = estimate_memory(make_info(), 0, settings.model_copy(update={"extra_args": "--cache-type-k=q4_0"}))
    assert q8.kv_bytes == f16 * 34 // 64  # 34 bytes per 32 elements instead of 64
    assert q4k.kv_bytes == f16 // 2 + f16 // 2 * 18 // 64  # only K quantized


def test_head_sizes_from_the_header_win_over_embedding_over_heads() -> None:
    info = make_info(n_embd=512, n_head=8, n_head_kv=2, attention__key_length=128, attention__value_length=96)
    estimate = estimate_memory(info, 0, ServerSettings(context_size=1024))
    assert estimate.kv_bytes == 8 * 1024 * (128 * 2 + 96 * 2) * 2


def test_sliding_window_layers_keep_a_smaller_cache() -> None:
    # gemma3: every 6th layer is full, the others keep window + ubatch cells (padded to 256)
    info = make_info("gemma3", n_layer=12, n_head_kv=4, attention__sliding_window=512)
    estimate = estimate_memory(info, 0, ServerSettings(context_size=8192))
    row = 4 * 64 * 2 * 2  # K + V per cell, f16
    assert estimate.kv_bytes == 2 * 8192 * row + 10 * 1024 * row
    full = estimate_memory(info, 0, ServerSettings(context_size=8192, extra_args="--swa-full"))
    assert full.kv_bytes == 12 * 8192 * row


def test_sliding_window_pattern_from_the_header() -> None:
    pattern = [True, False] * 4  # 4 sliding, 4 full
    info = make_info("gpt-oss", attention__sliding_window=128, attention__sliding_window_pattern=pattern)
    estimate = estimate_memory(info, 0, ServerSettings(context_size=4096))
    row = 4 * 64 * 2 * 2
    assert estimate.kv_bytes == 4 * 4096 * row + 4 * 768 * row  # 128 + 512 -> 768


def test_unknown_sliding_window_architecture_counts_every_layer_full() -> None:
    info = make_info("newarch", attention__sliding_window=128)
    plain = estimate_memory(make_info(), 0, ServerSettings(context_size=4096))
    assert estimate_memory(info, 0, ServerSettings(context_size=4096)).kv_bytes == plain.kv_bytes


def test_recurrent_model_keeps_a_fixed_state_per_slot() -> None:
    info = make_info("mamba", n_layer=24, n_embd=768, n_head=0, n_head_kv=0, ssm__conv_kernel=4,
                     ssm__inner_size=1536, ssm__state_size=16)
    one = estimate_memory(info, 0, ServerSettings(context_size=4096, parallel=1))
    state = 24 * (3 * 1536 + 16 * 1536) * 4
    assert one.kv_bytes == state
    assert estimate_memory(info, 0, ServerSettings(context_size=32768, parallel=2)).kv_bytes == 2 * state


def test_hybrid_model_layers_without_kv_heads_are_recurrent() -> None:
    heads = [0, 0, 0, 4, 0, 0, 0, 4]
    info = make_info("jamba", attention__head_count_kv=heads, ssm__conv_kernel=4, ssm__inner_size=1024,
                     ssm__state_size=16)
    estimate = estimate_memory(info, 0, ServerSettings(context_size=2048))
    attention = 2 * 2048 * 4 * 64 * 2 * 2
    state = 6 * (3 * 1024 + 16 * 1024) * 4
    assert estimate.kv_bytes == attention + state


def test_mixture_of_experts_computes_with_the_experts_used() -> None:
    dense = estimate_memory(make_info(n_ff=2048), 0, ServerSettings(context_size=2048))
    moe = estimate_memory(make_info(n_ff=8192, expert_used_count=2, expert_feed_forward_length=1024), 0,
                          ServerSettings(context_size=2048))
    assert moe.compute_bytes == dense.compute_bytes


def test_cpu_estimate_lands_in_ram() -> None:
    estimate = estimate_memory(make_info(), 10 * MiB, ServerSettings(), projector_bytes=3 * MiB)
    assert estimate.vram_bytes == 0
    assert estimate.ram_bytes == estimate.total_bytes
    assert estimate.total_bytes == (estimate.weights_bytes + estimate.kv_bytes + estimate.compute_bytes
                                    + estimate.overhead_bytes + 3 * MiB)
    assert estimate.overhead_bytes >= RUNTIME_BYTES


def test_all_layers_on_the_gpu() -> None:
    info = make_info(parameter_count=40_000_000)
    weights = 80 * MiB
    estimate = estimate_memory(info, weights, ServerSettings(gpu_layers=-1), gpu=True, projector_bytes=MiB)
    embeddings = int(2000 * 512 * weights / 40_000_000)
    assert estimate.ram_bytes + estimate.vram_bytes == estimate.total_bytes
    # token embeddings stay in RAM; the layers, the output matrix, the KV cache, the graph and the projector
    # go to the GPU
    assert estimate.vram_bytes >= weights - embeddings - 8 + estimate.kv_bytes + MiB + GPU_CONTEXT_BYTES
    assert estimate.ram_bytes < embeddings + RUNTIME_BYTES + 2 * MiB


def test_some_layers_on_the_gpu_split_weights_and_kv_by_layer() -> None:
    info = make_info(parameter_count=40_000_000)
    weights = 80 * MiB
    half = estimate_memory(info, weights, ServerSettings(gpu_layers=4, context_size=4096), gpu=True)
    full = estimate_memory(info, weights, ServerSettings(gpu_layers=-1, context_size=4096), gpu=True)
    none = estimate_memory(info, weights, ServerSettings(gpu_layers=0, context_size=4096), gpu=True)
    assert none.vram_bytes == 0 and none.ram_bytes == none.total_bytes
    assert 0 < half.vram_bytes < full.vram_bytes
    assert half.ram_bytes + half.vram_bytes == half.total_bytes
    # half of the layers: half of the KV cache in VRAM, and a CPU graph buffer for the other half
    cpu_only = estimate_memory(info, weights, ServerSettings(gpu_layers=4, context_size=4096))
    assert half.total_bytes > cpu_only.total_bytes
    no_kv = estimate_memory(info, weights, ServerSettings(gpu_layers=4, context_size=4096, extra_args="-nkvo"),
                            gpu=True)
    assert half.vram_bytes - no_kv.vram_bytes == half.kv_bytes // 2


def test_prompt_cache_limit_follows_cache_ram() -> None:
    assert estimate_memory(make_info(), 0, ServerSettings()).prompt_cache_limit_bytes == 8192 * MiB
    assert estimate_memory(make_info(), 0, ServerSettings(extra_args="-cram 0")).prompt_cache_limit_bytes == 0
    assert estimate_memory(make_info(), 0, ServerSettings(extra_args="--cache-ram=-1")).prompt_cache_limit_bytes \
        is None


def test_a_prompt_cache_beside_others_holds_as_many_tokens_as_the_context() -> None:
    default = estimate_memory(make_info(), 0, ServerSettings(context_size=4096))
    assert not default.prompt_cache_given
    assert default.bounded_prompt_cache_mib() == -(-default.kv_bytes // MiB) < 8192
    given = estimate_memory(make_info(), 0, ServerSettings(context_size=4096, extra_args="-cram 300"))
    assert given.prompt_cache_given and given.prompt_cache_limit_bytes == 300 * MiB
    long_context = estimate_memory(make_info(n_ctx_train=2_097_152), 0, ServerSettings(context_size=2_097_152))
    assert long_context.kv_bytes > 8192 * MiB and long_context.bounded_prompt_cache_mib() == 8192  # never above
    tiny = estimate_memory(make_info(n_layer=1, n_embd=64, n_head=1, n_head_kv=1), 0, ServerSettings(context_size=256))
    assert tiny.kv_bytes < MiB and tiny.bounded_prompt_cache_mib() == 1  # 0 would turn the cache off


def test_describe_names_the_parts() -> None:
    estimate = estimate_memory(make_info(), 64 * MiB, ServerSettings(context_size=2048))
    text = estimate.describe()
    assert text.startswith("1")  # total in MB
    assert "weights 67.1 MB" in text and "KV 16.8 MB" in text and "compute" in text
    assert "GPU" not in text
    gpu = estimate_memory(make_info(parameter_count=1), 64 * MiB, ServerSettings(), gpu=True)
    assert "on the GPU" in gpu.describe()


def test_unreadable_memory_argument_is_an_error() -> None:
    with pytest.raises(ValueError, match="-ctk"):
        estimate_memory(make_info(), 0, ServerSettings(extra_args="-ctk q3_x"))


def test_quantized_cache_needs_head_sizes_in_whole_blocks() -> None:
    info = make_info(n_embd=64, n_head=4)  # heads of 16
    with pytest.raises(ValueError, match="head size 16 is not a multiple of the type's block of 32"):
        estimate_memory(info, 0, ServerSettings(extra_args="-ctk q8_0"))


def test_quantized_v_cache_without_flash_attention_is_refused() -> None:
    with pytest.raises(ValueError, match="Flash Attention off"):
        estimate_memory(make_info(), 0, ServerSettings(extra_args="-ctv q8_0 -fa off"))


def test_partial_offload_reserves_a_graph_on_each_side() -> None:
    info = make_info(parameter_count=40_000_000)
    settings = ServerSettings(context_size=4096)
    cpu = estimate_memory(info, 80 * MiB, settings)
    half = estimate_memory(info, 80 * MiB, settings.model_copy(update={"gpu_layers": 4}), gpu=True)
    full = estimate_memory(info, 80 * MiB, settings.model_copy(update={"gpu_layers": -1}), gpu=True)
    assert half.compute_bytes == 2 * cpu.compute_bytes
    assert cpu.compute_bytes < full.compute_bytes < cpu.compute_bytes + 2 * MiB  # + the inputs on the CPU


@pytest.mark.parametrize(("context", "parallel", "extra", "kv_mib", "compute_mib"), [
    (8192, 1, "", 4.0 + 3.5, 13.52),
    (8192, 2, "-fa off", 4.0 + 7.0, 45.51),
    (4096, 1, "--swa-full", 2.0 + 14.0, 12.52),
])
def test_sliding_window_model_matches_what_llama_server_reported(context: int, parallel: int, extra: str,
                                                                 kv_mib: float, compute_mib: float) -> None:
    # tests/support/tiny_swa.py's Gemma 3 layout; llama-server logged one KV buffer per cache (full, sliding)
    info = make_info("gemma3", n_layer=8, n_embd=256, n_head=4, n_head_kv=2, n_ff=512, n_vocab=1000,
                     attention__sliding_window=512, attention__key_length=64, attention__value_length=64)
    estimate = estimate_memory(info, 0, ServerSettings(context_size=context, parallel=parallel, extra_args=extra))
    assert estimate.kv_bytes == kv_mib * MiB
    assert estimate.compute_bytes == pytest.approx(compute_mib * MiB, rel=0.06)
