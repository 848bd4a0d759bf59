"""Tiny *servable* Llama models for tests: real llama-server loads them and answers completions.

Unlike :mod:`tests.support.gguf_files` (header-level files for the library), these carry every tensor a
llama-architecture model needs, with small random weights, and a SentencePiece-style ("llama") vocab:
``<unk> <s> </s>``, the 256 byte-fallback tokens and a few hundred word pieces. Nonsense out, but real
tokens, real HTTP, real loading.
"""

from __future__ import annotations

import os
import string
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFWriter, Keys

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2

# SentencePiece token types as llama.cpp reads them.
_NORMAL, _UNKNOWN, _CONTROL, _BYTE = 1, 2, 3, 6

_WORD_TEXT = ("the a an and of to in is it that was he for on are as with his they at be this from have or by "
          "one had not but what all were when we there can said which do their time if will way about many "
          "then them would write like so these her long make thing see him two has look more day could go "
          "come did my sound no most number who over know water than call first people may down side been "
          "now find llama model server hello world")


class FileType(IntEnum):
    """``general.file_type`` values for the two unquantized layouts we write."""

    F32 = 0
    F16 = 1


def _vocab(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [_UNKNOWN, _CONTROL, _CONTROL]
    tokens += [f"<0x{byte:02X}>" for byte in range(256)]
    types += [_BYTE] * 256
    pieces = ["▁", *string.ascii_lowercase, *string.ascii_uppercase, *string.digits, *".,!?'-:;"]
    pieces += [f"▁{word}" for word in _WORD_TEXT.split()]
    seen = set(tokens)
    for piece in pieces:
        if len(tokens) >= n_vocab:
            break
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            types.append(_NORMAL)
    filler = 0
    while len(tokens) < n_vocab:  # pad with unlikely pieces so any requested size works
        tokens.append(f"▁tok{filler}")
        types.append(_NORMAL)
        filler += 1
    # Longer pieces score higher, so the SPM tokenizer prefers whole words.
    scores = [0.0 if kind != _NORMAL else -1000.0 + len(token) for token, kind in zip(tokens, types,
                                                                                    strict=True)]
    return tokens, scores, types


def write_tiny_llama_gguf(path: Path, *, n_embd: int = 64, n_layer: int = 2, n_head: int = 4,
                          n_head_kv: int | None = None, n_ff: int | None = None, n_vocab: int = 384,
                          n_ctx_train: int = 2048, name: str = "tiny-llama", seed: int = 0,
                          file_type: FileType = FileType.F32, split_count: int = 1, fim: bool = False) -> Path:
    """Write a random-weight llama model llama-server can serve; returns ``path``.

    ``split_count`` > 1 marks the file as the first of that many splits (all tensors in this one), so a
    loader goes on to open ``<prefix>-0000N-of-0000M.gguf`` for the rest. ``fim``: the last three tokens
    are fill-in-the-middle control tokens (``<PRE>``, ``<SUF>``, ``<MID>``), named in the header as a
    code model's are, so llama-server's ``/infill`` works.
    """
    if n_embd % n_head:
        raise ValueError("n_embd must be a multiple of n_head")
    if n_vocab < 3 + 256 + 1:
        raise ValueError("n_vocab must leave room for the special and byte tokens")
    n_head_kv = n_head if n_head_kv is None else n_head_kv
    n_ff = n_ff if n_ff is not None else 4 * n_embd
    head_dim = n_embd // n_head
    n_embd_kv = head_dim * n_head_kv
    rng = np.random.default_rng(seed)
    weight_dtype = np.float16 if file_type is FileType.F16 else np.float32

    def matrix(rows: int, cols: int) -> np.ndarray[Any, Any]:
        # numpy (rows, cols) becomes ggml ne = [cols, rows]
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(weight_dtype)

    def norm() -> np.ndarray[Any, Any]:
        return np.ones((n_embd,), dtype=np.float32)  # 1-D tensors stay F32, as llama.cpp expects

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, "llama")
    writer.add_name(name)
    writer.add_file_type(int(file_type))
    writer.add_context_length(n_ctx_train)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)

    tokens, scores, types = _vocab(n_vocab)
    if fim:
        tokens[-3:], scores[-3:], types[-3:] = ["<PRE>", "<SUF>", "<MID>"], [0.0] * 3, [_CONTROL] * 3
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_unk_token_id(UNK_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if fim:
        for offset, role in ((3, "pre"), (2, "suf"), (1, "mid")):
            writer.add_uint32(f"tokenizer.ggml.fim_{role}_token_id", n_vocab - offset)
    if split_count > 1:
        writer.add_uint16(Keys.Split.LLM_KV_SPLIT_NO, 0)
        writer.add_uint16(Keys.Split.LLM_KV_SPLIT_COUNT, split_count)
        writer.add_int32(Keys.Split.LLM_KV_SPLIT_TENSORS_COUNT, 3 + 9 * n_layer)

    writer.add_tensor("token_embd.weight", matrix(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", norm())
    writer.add_tensor("output.weight", matrix(n_vocab, n_embd))
    for layer in range(n_layer):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", norm())
        writer.add_tensor(f"{prefix}.attn_q.weight", matrix(n_embd, n_embd))
        writer.add_tensor(f"{prefix}.attn_k.weight", matrix(n_embd_kv, n_embd))
        writer.add_tensor(f"{prefix}.attn_v.weight", matrix(n_embd_kv, n_embd))
        writer.add_tensor(f"{prefix}.attn_output.weight", matrix(n_embd, n_embd))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", norm())
        writer.add_tensor(f"{prefix}.ffn_gate.weight", matrix(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_up.weight", matrix(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_down.weight", matrix(n_embd, n_ff))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_corrupt_gguf(path: Path, *, keep_fraction: float = 0.5) -> Path:
    """A tiny model whose header is valid but whose tensor data is cut short: llama-server reads the
    header, then exits during load."""
    write_tiny_llama_gguf(path, name="corrupt")
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep_fraction))])
    return path


def write_held_loading_gguf(folder: Path) -> Path:
    """A model whose load llama-server begins and cannot finish while the test runs.

    The first of two splits is a real file; the second is a FIFO nobody writes, so the loader blocks in
    ``open()`` of it after the HTTP server is up: ``/health`` answers 503 for as long as the test needs,
    on any machine load. (A merely large model leaves a load window of a few tens of ms, which a health
    poll on a busy machine can miss.) Blocked in ``open()``, the server has no SIGTERM handler yet, so a
    TERM or KILL ends it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    first = write_tiny_llama_gguf(folder / "held-00001-of-00002.gguf", name="held", seed=3, split_count=2)
    os.mkfifo(folder / "held-00002-of-00002.gguf")
    return first
