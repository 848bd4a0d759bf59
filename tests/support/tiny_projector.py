"""A tiny vision projector llama.cpp loads (``--mmproj``): a LLaVA-style CLIP encoder (2 blocks, 32-dim,
32×32 images in 16×16 patches) with an MLP projector into the text model's embedding size, random weights.
The tests pair it with a tiny text model to check that an image sent to the endpoint reaches the model."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFWriter

IMAGE_SIZE = 32
PATCH_SIZE = 16
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # what one image adds to the prompt


def write_tiny_projector(path: Path, *, text_embd: int = 64, n_embd: int = 32, n_ff: int = 64, n_layer: int = 2,
                         n_head: int = 2, mm_hidden: int = 64, seed: int = 7) -> Path:
    """Write the projector for a text model of ``text_embd`` (numpy (rows, cols) is ggml ne = [cols, rows])."""
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    def ones(count: int) -> np.ndarray[Any, Any]:
        return np.ones((count,), dtype=np.float32)

    def zeros(count: int) -> np.ndarray[Any, Any]:
        return np.zeros((count,), dtype=np.float32)

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, "clip")
    writer.add_name("tiny-projector")
    writer.add_file_type(0)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", n_embd)
    writer.add_uint32("clip.vision.feed_forward_length", n_ff)
    writer.add_uint32("clip.vision.block_count", n_layer)
    writer.add_uint32("clip.vision.projection_dim", text_embd)
    writer.add_uint32("clip.vision.attention.head_count", n_head)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    writer.add_bool("clip.use_gelu", True)
    patches = (IMAGE_SIZE // PATCH_SIZE) ** 2
    writer.add_tensor("v.patch_embd.weight", weight(n_embd, 3, PATCH_SIZE, PATCH_SIZE))
    writer.add_tensor("v.position_embd.weight", weight(patches, n_embd))
    for block in range(n_layer):
        prefix = f"v.blk.{block}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(f"{prefix}.{name}.weight", weight(n_embd, n_embd))
            writer.add_tensor(f"{prefix}.{name}.bias", zeros(n_embd))
        for name in ("ln1", "ln2"):
            writer.add_tensor(f"{prefix}.{name}.weight", ones(n_embd))
            writer.add_tensor(f"{prefix}.{name}.bias", zeros(n_embd))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_up.bias", zeros(n_ff))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weight(n_embd, n_ff))
        writer.add_tensor(f"{prefix}.ffn_down.bias", zeros(n_embd))
    writer.add_tensor("mm.0.weight", weight(mm_hidden, n_embd))
    writer.add_tensor("mm.0.bias", zeros(mm_hidden))
    writer.add_tensor("mm.2.weight", weight(text_embd, mm_hidden))
    writer.add_tensor("mm.2.bias", zeros(text_embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_png(width: int = IMAGE_SIZE, height: int = IMAGE_SIZE) -> bytes:
    """A small RGB gradient as a PNG (written by hand: no imaging library needed)."""
    rows = b"".join(b"\0" + b"".join(bytes((x * 8 % 256, y * 8 % 256, 128)) for x in range(width))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def image_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
