"""A tiny servable *sliding-window* model: the Gemma 3 architecture (every 6th layer full attention, the
others a window), with random weights and the same generated vocabulary as :mod:`tests.support.tiny_models`.
llama-server loads it with its two KV caches (full and sliding), which is what the memory estimate's
sliding-window formula is checked against."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFWriter

from tests.support.tiny_models import BOS_ID, EOS_ID, UNK_ID, _vocab


def write_tiny_gemma3_gguf(path: Path, *, n_embd: int = 256, n_layer: int = 8, n_head: int = 4,
                           n_head_kv: int = 2, head_dim: int = 64, n_ff: int = 512, n_vocab: int = 1000,
                           n_ctx_train: int = 8192, sliding_window: int = 512, seed: int = 0) -> Path:
    """Write the model (F16 matrices, F32 norms); returns ``path``."""
    rng = np.random.default_rng(seed)

    def matrix(rows: int, cols: int) -> np.ndarray[Any, Any]:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    def norm(size: int) -> np.ndarray[Any, Any]:
        return np.ones((size,), dtype=np.float32)

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, "gemma3")
    writer.add_name("tiny-gemma3")
    writer.add_file_type(1)
    writer.add_context_length(n_ctx_train)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_sliding_window(sliding_window)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    tokens, scores, types = _vocab(n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_unk_token_id(UNK_ID)

    writer.add_tensor("token_embd.weight", matrix(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", norm(n_embd))
    writer.add_tensor("output.weight", matrix(n_vocab, n_embd))
    for layer in range(n_layer):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", norm(n_embd))
        writer.add_tensor(f"{prefix}.attn_q.weight", matrix(n_head * head_dim, n_embd))
        writer.add_tensor(f"{prefix}.attn_k.weight", matrix(n_head_kv * head_dim, n_embd))
        writer.add_tensor(f"{prefix}.attn_v.weight", matrix(n_head_kv * head_dim, n_embd))
        writer.add_tensor(f"{prefix}.attn_output.weight", matrix(n_embd, n_head * head_dim))
        writer.add_tensor(f"{prefix}.post_attention_norm.weight", norm(n_embd))
        writer.add_tensor(f"{prefix}.attn_k_norm.weight", norm(head_dim))
        writer.add_tensor(f"{prefix}.attn_q_norm.weight", norm(head_dim))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", norm(n_embd))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", matrix(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_up.weight", matrix(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_down.weight", matrix(n_embd, n_ff))
        writer.add_tensor(f"{prefix}.post_ffw_norm.weight", norm(n_embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
