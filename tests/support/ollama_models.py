"""A tiny but real GGUF published on the loopback Ollama registry, with the text layers a real tag has."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.fake_ollama import FakeOllama, PublishedTag
from tests.support.gguf_files import write_gguf

TEXTS = {"template": "{{ .System }} {{ .Prompt }}", "params": '{"stop": ["<|eot_id|>"]}',
         "system": "You are terse.", "license": "LLAMA 3.2 COMMUNITY LICENSE (loopback copy)"}


def tiny_gguf_bytes(folder: Path) -> bytes:
    """~256 KiB of tensor data: big enough that a cut or a slow link leaves a real partial behind."""
    path = write_gguf(folder / "tiny.gguf", name="Tiny Llama", vocab_size=8,
                      tensors={"token_embd.weight": np.arange(256 * 256, dtype=np.float32).reshape(256, 256)})
    return path.read_bytes()


def publish_tiny(registry: FakeOllama, gguf: bytes, model: str = "llama3.2", tag: str = "1b") -> PublishedTag:
    return registry.publish(model, tag, gguf, text_layers=TEXTS)
