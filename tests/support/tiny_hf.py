"""A tiny Llama-architecture Hugging Face model folder, made in a second or two: ``config.json`` (hidden
64, 2 layers, 4 heads), ``model.safetensors`` of small random weights, and a SentencePiece
``tokenizer.model`` trained in-process. ``convert_hf_to_gguf.py`` converts it; llama-server serves it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import sentencepiece as spm
from safetensors.numpy import save_file

HIDDEN = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
FFN = 128

CORPUS = """The quick brown fox jumps over the lazy dog.
A llama walks in the green field.
Models are files of numbers.
The server answers every request.
Small models load in a moment.
Hello world, this is a tiny model.
Tokens are pieces of words.
We convert weights into a single file.
Quantized weights take less memory.
Downloads resume where they stopped.
""".strip().splitlines()


def train_tokenizer(vocab_size: int = 200) -> bytes:
    """A SentencePiece model trained on a few short lines (bytes of ``tokenizer.model``)."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(  # type: ignore[attr-defined]
        sentence_iterator=iter(CORPUS * 20), model_writer=model, vocab_size=vocab_size, model_type="bpe",
        character_coverage=1.0, hard_vocab_limit=False, bos_id=1, eos_id=2, unk_id=0, pad_id=-1,
        minloglevel=2, num_threads=1)
    return model.getvalue()


def make_tiny_llama(folder: Path, *, seed: int = 0, architecture: str = "LlamaForCausalLM") -> Path:
    """Write the model folder and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    (folder / "tokenizer.model").write_bytes(tokenizer)
    processor = spm.SentencePieceProcessor(model_proto=tokenizer)  # type: ignore[call-arg]
    vocab = int(processor.get_piece_size())
    config = {
        "architectures": [architecture], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": FFN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "vocab_size": vocab, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "bos_token_id": 1, "eos_token_id": 2,
        "tie_word_embeddings": False, "torch_dtype": "float32", "hidden_act": "silu",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
        "tokenizer_class": "LlamaTokenizer"}), encoding="utf-8")
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:  # type: ignore[type-arg]
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    head_dim = HIDDEN // HEADS
    tensors = {"model.embed_tokens.weight": weight(vocab, HIDDEN), "model.norm.weight": np.ones(HIDDEN, np.float32),
               "lm_head.weight": weight(vocab, HIDDEN)}
    for i in range(LAYERS):
        prefix = f"model.layers.{i}"
        tensors.update({
            f"{prefix}.self_attn.q_proj.weight": weight(HIDDEN, HIDDEN),
            f"{prefix}.self_attn.k_proj.weight": weight(KV_HEADS * head_dim, HIDDEN),
            f"{prefix}.self_attn.v_proj.weight": weight(KV_HEADS * head_dim, HIDDEN),
            f"{prefix}.self_attn.o_proj.weight": weight(HIDDEN, HIDDEN),
            f"{prefix}.mlp.gate_proj.weight": weight(FFN, HIDDEN),
            f"{prefix}.mlp.up_proj.weight": weight(FFN, HIDDEN),
            f"{prefix}.mlp.down_proj.weight": weight(HIDDEN, FFN),
            f"{prefix}.input_layernorm.weight": np.ones(HIDDEN, np.float32),
            f"{prefix}.post_attention_layernorm.weight": np.ones(HIDDEN, np.float32),
        })
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder
