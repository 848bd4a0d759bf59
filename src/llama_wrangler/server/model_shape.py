"""A model's shape as llama.cpp reads it from the GGUF header: what the memory estimate needs per layer.

Reads ``GGUFInfo.metadata`` (the ``{arch}.*`` keys) the way llama.cpp's ``llama_model::load_hparams`` does
at the pinned build (b11312, ``src/llama-model.cpp``, ``src/llama-hparams.cpp``, ``src/models/*.cpp``):
head sizes default to ``n_embd / n_head``; ``head_count_kv`` may be a per-layer array (0 = a layer without
attention: recurrent in a hybrid model); sliding-window layers come from
``attention.sliding_window_pattern`` (a bool per layer, or a period) or the architecture's own period.

Per-layer arrays longer than the header reader keeps (64 entries) are not in ``metadata``; then the largest
value (``GGUFInfo.head_count_kv``) stands for every layer and every layer counts as full attention, which
can only over-estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llama_wrangler.library.gguf import GGUFInfo
from llama_wrangler.library.gguf_reader import MetaValue

# Architectures whose whole memory is a recurrent state (llm_arch_is_recurrent).
RECURRENT_ARCHS = frozenset({"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"})
# The period of full-attention layers llama.cpp assumes when the file names none (load_swa_pattern's
# default argument in src/models/<arch>.cpp): every n-th layer is full, the others slide.
SWA_PERIOD = {"gemma2": 2, "gemma3": 6, "cohere2": 4, "gpt-oss": 2, "llama4": 4}


@dataclass(frozen=True)
class LayerShape:
    """One layer's cache footprint per token (K and V) or per sequence (recurrent state)."""

    k_per_token: int  # elements: n_embd_head_k × n_head_kv
    v_per_token: int
    sliding: bool  # in the sliding-window cache (smaller) rather than the full one
    recurrent_state: int = 0  # f32 elements per sequence (Mamba conv + ssm state, RWKV shift + wkv)


@dataclass(frozen=True)
class ModelShape:
    architecture: str
    n_layer: int
    n_embd: int
    n_head: int
    n_ff: int  # the widest feed-forward a token passes through (experts used × expert width for MoE)
    n_vocab: int
    n_ctx_train: int
    n_swa: int  # sliding window in tokens, 0 = none
    layers: tuple[LayerShape, ...]
    head_k: int = 0  # K and V head sizes of the full-attention layers (0 for a recurrent model)
    head_v: int = 0

    @property
    def has_attention(self) -> bool:
        return any(layer.k_per_token or layer.v_per_token for layer in self.layers)


def model_shape(info: GGUFInfo, *, n_ctx_train: int | None = None) -> ModelShape:
    """The shape of ``info``'s model; ``n_ctx_train`` overrides the header's context length. Raises
    ``ValueError`` when the header lacks what any estimate needs (layers, embedding width)."""
    arch = info.architecture or ""
    meta = info.metadata
    n_layer = info.block_count or 0
    n_embd = info.embedding_length or 0
    if n_layer <= 0 or n_embd <= 0:
        raise ValueError(f"the GGUF header of {info.name or 'this model'} has no layer count or embedding "
                         "length, so its memory cannot be estimated")
    n_head_layers = _per_layer(meta.get(f"{arch}.attention.head_count"), n_layer, info.head_count or 0)
    n_head = max(n_head_layers) if n_head_layers else 0
    n_head_kv_layers = _per_layer(meta.get(f"{arch}.attention.head_count_kv"), n_layer,
                                  info.head_count_kv if info.head_count_kv is not None else n_head)
    head = n_embd // n_head if n_head else 0
    head_k = _int(meta, f"{arch}.attention.key_length", head)
    head_v = _int(meta, f"{arch}.attention.value_length", head)
    head_k_swa = _int(meta, f"{arch}.attention.key_length_swa", head_k)
    head_v_swa = _int(meta, f"{arch}.attention.value_length_swa", head_v)
    n_swa = _int(meta, f"{arch}.attention.sliding_window")
    sliding = _sliding_layers(meta, arch, n_layer, n_swa)
    recurrent = _recurrent_state(meta, arch, n_embd)
    whole_recurrent = arch in RECURRENT_ARCHS
    layers = []
    for il in range(n_layer):
        n_kv = 0 if whole_recurrent else n_head_kv_layers[il]
        # llama.cpp marks a hybrid model's layers without KV heads as recurrent (jamba, granite-hybrid...)
        state = recurrent if (whole_recurrent or (recurrent and n_kv == 0)) else 0
        hk, hv = (head_k_swa, head_v_swa) if sliding[il] else (head_k, head_v)
        layers.append(LayerShape(k_per_token=hk * n_kv, v_per_token=hv * n_kv, sliding=sliding[il],
                                 recurrent_state=state))
    return ModelShape(
        architecture=arch, n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_ff=_ffn_width(meta, arch, n_embd),
        n_vocab=info.vocab_size or _int(meta, f"{arch}.vocab_size"),
        n_ctx_train=n_ctx_train or info.context_length or 0, n_swa=n_swa if any(sliding) else 0,
        layers=tuple(layers), head_k=head_k if n_head else 0, head_v=head_v if n_head else 0)


def _int(meta: Mapping[str, MetaValue], key: str, default: int = 0) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def _per_layer(value: MetaValue | None, n_layer: int, default: int) -> list[int]:
    """A per-layer value: an array (kept when short enough) or one number for every layer."""
    if isinstance(value, list) and len(value) == n_layer:
        numbers = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
        if len(numbers) == n_layer:
            return numbers
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * n_layer
    return [default] * n_layer


def _sliding_layers(meta: Mapping[str, MetaValue], arch: str, n_layer: int, n_swa: int) -> list[bool]:
    if n_swa <= 0:
        return [False] * n_layer
    pattern = meta.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list):
        if len(pattern) == n_layer:
            return [bool(v) for v in pattern]
        return [False] * n_layer  # not kept (too long) or malformed: count full layers (over-estimates)
    period = pattern if isinstance(pattern, int) and not isinstance(pattern, bool) else SWA_PERIOD.get(arch)
    if period is None:
        return [False] * n_layer
    # llama_hparams::set_swa_pattern (dense_first = false): period 0 = all sliding, else the last layer
    # of each period is full
    return [period == 0 or il % period < period - 1 for il in range(n_layer)]


def _recurrent_state(meta: Mapping[str, MetaValue], arch: str, n_embd: int) -> int:
    """f32 elements of one sequence's recurrent state in one layer (llama_hparams::n_embd_r + n_embd_s)."""
    wkv = _int(meta, f"{arch}.wkv.head_size")
    if wkv:  # RWKV: token shift + wkv state
        return (_int(meta, f"{arch}.token_shift_count") or 2) * n_embd + n_embd * wkv
    l_cache = _int(meta, f"{arch}.shortconv.l_cache")
    if l_cache:  # LFM2 short convolutions
        return n_embd * (l_cache - 1)
    d_conv = _int(meta, f"{arch}.ssm.conv_kernel")
    d_inner = _int(meta, f"{arch}.ssm.inner_size")
    d_state = _int(meta, f"{arch}.ssm.state_size")
    if not (d_inner and d_state):
        return 0
    n_group = _int(meta, f"{arch}.ssm.group_count")
    return max(0, d_conv - 1) * (d_inner + 2 * n_group * d_state) + d_state * d_inner


def _ffn_width(meta: Mapping[str, MetaValue], arch: str, n_embd: int) -> int:
    """The feed-forward width one token passes through: the dense width (the widest layer's), or for a
    mixture of experts the experts used at once plus the shared expert."""
    key = f"{arch}.feed_forward_length"
    dense = max(_list(meta.get(key)) or [_int(meta, key)]) or 4 * n_embd
    used = _int(meta, f"{arch}.expert_used_count")
    expert = _int(meta, f"{arch}.expert_feed_forward_length")
    if used and expert:
        shared = _int(meta, f"{arch}.expert_shared_feed_forward_length") or (
            expert * _int(meta, f"{arch}.expert_shared_count"))
        return used * expert + shared
    return dense


def _list(value: MetaValue | None) -> list[int]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
