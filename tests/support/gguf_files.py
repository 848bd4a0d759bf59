"""Write small but real GGUF files with the ``gguf`` package's own writer (what llama.cpp's tools use).

``write_gguf(path, arch='llama', kv={...}, tensors={...}, vocab_size=...)`` gives a file with the keys a
converted model carries (name, context length, layers, heads, file type); ``kv`` adds or overrides keys
(a value may be ``(value, GGUFValueType)`` to pick the type). ``write_split_gguf`` writes
``name-0000N-of-0000M.gguf`` shards. Other engineers reuse these; keep the signatures stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFValueType, GGUFWriter

DEFAULT_TENSORS_SHAPE = (8, 4)


def default_kv(arch: str, name: str) -> dict[str, Any]:
    return {
        "general.name": name,
        "general.file_type": (15, GGUFValueType.UINT32),  # Q4_K_M
        f"{arch}.context_length": (4096, GGUFValueType.UINT32),
        f"{arch}.block_count": (2, GGUFValueType.UINT32),
        f"{arch}.embedding_length": (64, GGUFValueType.UINT32),
        f"{arch}.feed_forward_length": (128, GGUFValueType.UINT32),
        f"{arch}.attention.head_count": (4, GGUFValueType.UINT32),
        f"{arch}.attention.head_count_kv": (2, GGUFValueType.UINT32),
        f"{arch}.rope.freq_base": (10000.0, GGUFValueType.FLOAT32),
        f"{arch}.attention.layer_norm_rms_epsilon": (1e-5, GGUFValueType.FLOAT32),
        "general.quantization_version": (2, GGUFValueType.UINT32),
    }


def default_tensors() -> dict[str, np.ndarray[Any, Any]]:
    return {
        "token_embd.weight": np.ones(DEFAULT_TENSORS_SHAPE, dtype=np.float32),
        "output_norm.weight": np.ones((4,), dtype=np.float32),
    }


def _add_kv(writer: GGUFWriter, kv: Mapping[str, Any]) -> None:
    for key, raw in kv.items():
        if raw is None:
            continue
        if isinstance(raw, tuple):
            value, vtype = raw
            sub_type = None
            if vtype == GGUFValueType.ARRAY and len(raw) == 3:
                sub_type = raw[2]
            writer.add_key_value(key, value, vtype, sub_type=sub_type)
        else:
            writer.add_key_value(key, raw, GGUFValueType.get_type(raw))


def _add_vocab(writer: GGUFWriter, vocab_size: int) -> None:
    if vocab_size <= 0:
        return
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(vocab_size)])
    writer.add_token_scores([float(-i) for i in range(vocab_size)])
    writer.add_token_types([1] * vocab_size)


def _writer(path: Path, arch: str, kv: Mapping[str, Any] | None, tensors: Mapping[str, Any] | None,
            vocab_size: int, name: str | None, split_max_tensors: int = 0) -> GGUFWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, arch, split_max_tensors=split_max_tensors)
    merged = default_kv(arch, name or path.stem)
    merged.update(kv or {})
    _add_kv(writer, merged)
    _add_vocab(writer, vocab_size)
    for tensor_name, array in (default_tensors() if tensors is None else tensors).items():
        writer.add_tensor(tensor_name, array)
    return writer


def _finish(writer: GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_gguf(path: Path, arch: str = "llama", kv: Mapping[str, Any] | None = None,
               tensors: Mapping[str, Any] | None = None, vocab_size: int = 0,
               name: str | None = None) -> Path:
    """Write one GGUF file. ``kv`` entries set to ``None`` remove a default key."""
    writer = _writer(path, arch, kv, tensors, vocab_size, name)
    _finish(writer)
    return path


def write_split_gguf(path: Path, shards: int, arch: str = "llama", kv: Mapping[str, Any] | None = None,
                     vocab_size: int = 0, name: str | None = None) -> list[Path]:
    """Write ``path``'s model as ``shards`` files named like llama.cpp's gguf-split does
    (``stem-00001-of-0000N.gguf``); returns them, shard 1 first."""
    tensors = {f"blk.{i}.weight": np.full((4, 4), i, dtype=np.float32) for i in range(shards)}
    writer = _writer(path, arch, kv, tensors, vocab_size, name, split_max_tensors=1)
    _finish(writer)
    return [path.with_name(f"{path.stem}-{i:05d}-of-{shards:05d}.gguf") for i in range(1, shards + 1)]
