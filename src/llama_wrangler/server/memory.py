"""How much memory llama-server will take for one model, from its GGUF header and effective settings.

Follows what the pinned llama.cpp (b11312) allocates; ``docs/MEMORY.md`` gives the formula with the
source references and the accuracy measured against llama-server's own buffer report:

* weights: the file as mapped (``file_bytes`` less the header), split between GPU and CPU by layer;
* KV cache: llama.cpp's context after its padding (``src/llama-context.cpp``), per stream (slot), per
  layer, at the cache types' sizes; sliding-window layers keep a smaller cache; recurrent layers keep a
  fixed state per slot instead;
* compute: the worst-case graph llama.cpp reserves for one micro-batch (a model of its peak, not an exact
  replay of ggml's allocator: within a few percent on the models we measured);
* overhead: the logits buffer and the runtime itself.

No Qt; every function is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from llama_wrangler.library.gguf import GGUFInfo
from llama_wrangler.server.memory_params import DEFAULT_CACHE_RAM_MIB, KV_CACHE_TYPES, MemoryParams, memory_params
from llama_wrangler.server.model_shape import ModelShape, model_shape
from llama_wrangler.settings import ServerSettings
from llama_wrangler.units import human_bytes

MiB = 1024 * 1024
CTX_PAD = 256  # GGML_PAD(n_ctx, 256) in llama_context's constructor; the SWA cache is padded alike
# llama-server's own resident memory with no model: code, libraries, HTTP threads, tokenizer tables, the
# ggml contexts holding tensor descriptions. Measured (bench/memory.py): 14-18 MiB RSS on x86-64 Linux for
# the CPU build; a GPU runtime maps its driver too, which lands in RAM, not VRAM.
RUNTIME_BYTES = 24 * MiB
# What a GPU runtime's device context takes on the GPU itself, per process, before any buffer (the CUDA
# context, cuBLAS workspaces). Not measured here (no GPU in this project's CI); an allowance, so that
# several resident servers on one GPU are not planned into the last byte.
GPU_CONTEXT_BYTES = 384 * MiB
F32 = 4


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one model needs, by purpose and by where it lands (``ram_bytes + vram_bytes`` equals
    ``total_bytes``)."""

    weights_bytes: int
    kv_bytes: int  # KV cache and recurrent state (llama.cpp's "context" memory)
    compute_bytes: int  # graph buffers (all devices)
    overhead_bytes: int  # logits buffer + the runtime process itself (+ the GPU context, on the GPU)
    projector_bytes: int  # a vision model's mmproj file
    ram_bytes: int
    vram_bytes: int
    n_ctx: int = 0  # KV cells llama.cpp allocates in all (after padding), summed over slots
    n_ctx_slot: int = 0  # context of one slot
    # The server's prompt cache (``--cache-ram``) grows with use up to this in RAM; not part of the total
    # (nothing is there after a load). None: unlimited (``--cache-ram -1``).
    prompt_cache_limit_bytes: int | None = 0
    prompt_cache_given: bool = False  # the arguments set that limit (else it is llama-server's default)

    def bounded_prompt_cache_mib(self) -> int:
        """A prompt cache limit for a server that shares the machine with others: as many tokens as its
        context holds (the KV cache's size, in MiB) — llama.cpp's own token limit for the cache before its
        memory limit lets it grow further — and never more than llama-server's default. Every saved prompt
        (one slot's KV at most) still fits in it."""
        return max(1, min(DEFAULT_CACHE_RAM_MIB, -(-self.kv_bytes // MiB)))

    @property
    def total_bytes(self) -> int:
        return (self.weights_bytes + self.kv_bytes + self.compute_bytes + self.overhead_bytes
                + self.projector_bytes)

    def describe(self) -> str:
        """One line for the UI: ``1.2 GB: weights 1.0 GB + KV 128.0 MB + compute 70.0 MB``."""
        parts = [f"weights {human_bytes(self.weights_bytes)}", f"KV {human_bytes(self.kv_bytes)}",
                 f"compute {human_bytes(self.compute_bytes)}"]
        if self.projector_bytes:
            parts.append(f"projector {human_bytes(self.projector_bytes)}")
        text = f"{human_bytes(self.total_bytes)}: {' + '.join(parts)}"
        if self.vram_bytes:
            text += f" ({human_bytes(self.vram_bytes)} on the GPU)"
        return text


def estimate_memory(info: GGUFInfo, file_bytes: int, settings: ServerSettings, *,
                    n_ctx_train: int | None = None, projector_bytes: int = 0,
                    gpu: bool = False) -> MemoryEstimate:
    """What serving ``info``'s model with the effective ``settings`` will take.

    ``file_bytes``: all shards together. ``n_ctx_train`` overrides the header's training context (what
    ``context_size`` 0 means). ``gpu``: the runtime offloads to a GPU, so ``settings.gpu_layers`` decides
    which layers (and their KV cache) land in VRAM. Raises ``ValueError`` when the header lacks what an
    estimate needs or an extra argument that changes memory cannot be read.
    """
    return estimate_from_params(model_shape(info, n_ctx_train=n_ctx_train), memory_params(settings),
                                weights_bytes=max(0, file_bytes - info.header_size),
                                parameter_count=info.parameter_count, projector_bytes=projector_bytes, gpu=gpu)


@dataclass(frozen=True)
class ContextPlan:
    """llama.cpp's context after padding: cells per stream, streams, micro-batch."""

    n_ctx: int  # total cells (what llama_context logs as n_ctx)
    n_ctx_seq: int  # cells per stream (n_ctx_seq)
    n_stream: int  # 1 with a unified KV cache, else one per slot
    n_seq: int
    n_ubatch: int  # tokens in the reserved worst-case micro-batch


def plan_context(shape: ModelShape, params: MemoryParams) -> ContextPlan:
    """Mirror ``llama_context::llama_context`` (src/llama-context.cpp) and, for ``-c 0``, the server's
    ``--fit`` step (common/fit.cpp: the training context for every stream)."""
    n_seq = params.n_parallel
    n_stream = 1 if params.kv_unified else n_seq
    requested = params.n_ctx
    if requested == 0:
        if shape.n_ctx_train <= 0:
            raise ValueError("the model's header has no training context length; set a context size")
        requested = shape.n_ctx_train * (n_stream if params.fit else 1)
    n_ctx = _pad(requested, CTX_PAD)
    if params.kv_unified:
        n_ctx_seq = n_ctx
    else:
        n_ctx_seq = _pad(n_ctx // n_seq, CTX_PAD) or CTX_PAD
        n_ctx = n_ctx_seq * n_seq
    n_batch = min(n_ctx, params.n_batch)  # causal attention: the batch never exceeds the context
    n_ubatch = min(n_batch, params.n_ubatch)
    return ContextPlan(n_ctx=n_ctx, n_ctx_seq=n_ctx_seq, n_stream=n_stream, n_seq=n_seq, n_ubatch=n_ubatch)


def kv_layer_bytes(shape: ModelShape, params: MemoryParams, plan: ContextPlan) -> list[int]:
    """Bytes of each layer's KV cache (or recurrent state), in layer order (src/llama-kv-cache.cpp,
    llama-kv-cache-iswa.cpp, llama-memory-recurrent.cpp)."""
    cells_full = plan.n_ctx_seq
    cells_swa = cells_full
    if shape.n_swa and not params.swa_full:
        window = shape.n_swa * (plan.n_seq if params.kv_unified else 1) + plan.n_ubatch
        cells_swa = _pad(min(cells_full, window), CTX_PAD)
    if params.flash_attn is False and KV_CACHE_TYPES[params.type_v][0] > 1:
        raise ValueError("llama-server refuses a quantized V cache with Flash Attention off")
    for type_name, head in (("K", shape.head_k), ("V", shape.head_v)):
        block = KV_CACHE_TYPES[params.type_k if type_name == "K" else params.type_v][0]
        if head and head % block:
            raise ValueError(f"llama-server refuses this {type_name} cache type for this model: its head size "
                             f"{head} is not a multiple of the type's block of {block}")
    sizes = []
    for layer in shape.layers:
        cells = cells_swa if layer.sliding else cells_full
        kv = plan.n_stream * cells * (_row_bytes(params.type_k, layer.k_per_token)
                                      + _row_bytes(params.type_v, layer.v_per_token))
        state = layer.recurrent_state * F32 * max(1, plan.n_seq)
        sizes.append(kv + state)
    return sizes


def compute_bytes(shape: ModelShape, params: MemoryParams, plan: ContextPlan) -> int:
    """The compute buffer llama.cpp reserves for its worst-case graph (``sched_reserve``): a model of
    ggml-alloc's peak for one micro-batch of ``n_ubatch`` tokens, checked against llama-server's report
    (docs/MEMORY.md):

    * feed-forward peak: gate, up and their product (3 × n_ff) plus four n_embd-wide activations;
    * without Flash Attention, the attention scores (n_kv × n_head per token, f32) and six activations,
      whichever is larger;
    * plus the attention mask (n_kv per token; f16 with Flash Attention, else f32), for the sliding
      cache too, and the logits of one output per slot.
    """
    n_tokens = -(-plan.n_ubatch // plan.n_seq) * plan.n_seq  # graph_reserve rounds up to whole sequences
    embd = n_tokens * shape.n_embd * F32
    ffn_peak = n_tokens * shape.n_ff * F32 * 3 + 4 * embd
    n_kv = plan.n_ctx_seq if plan.n_stream > 1 else plan.n_ctx
    flash = params.flash_attn is not False  # auto enables it on every backend we ship
    peak = ffn_peak
    mask_cells = 0
    if shape.has_attention:
        mask_cells = n_kv
        if shape.n_swa and any(layer.sliding for layer in shape.layers):
            window = shape.n_swa * (plan.n_seq if params.kv_unified else 1) + plan.n_ubatch
            mask_cells += n_kv if params.swa_full else _pad(min(n_kv, window), CTX_PAD)
        if not flash:
            scores = n_kv * n_tokens * shape.n_head * F32 + 6 * embd
            peak = max(peak, scores)
    mask = mask_cells * n_tokens * (2 if flash else F32)
    logits = shape.n_vocab * plan.n_seq * F32
    return peak + mask + logits


def estimate_from_params(shape: ModelShape, params: MemoryParams, *, weights_bytes: int,
                         parameter_count: int = 0, projector_bytes: int = 0,
                         gpu: bool = False) -> MemoryEstimate:
    """:func:`estimate_memory` once the header and the arguments are read."""
    plan = plan_context(shape, params)
    kv_layers = kv_layer_bytes(shape, params, plan)
    compute = compute_bytes(shape, params, plan)
    outputs = shape.n_vocab + (shape.n_embd if params.embeddings else 0)
    output_buffer = outputs * plan.n_seq * F32
    overhead = output_buffer + RUNTIME_BYTES
    cache_limit = (None if params.cache_ram_mib < 0 else params.cache_ram_mib * MiB)
    total_kv = sum(kv_layers)
    vram_weights, vram_kv, vram_compute, vram_projector = _offloaded(
        shape, params, kv_layers, compute, weights_bytes=weights_bytes,
        parameter_count=parameter_count, projector_bytes=projector_bytes) if gpu else (0, 0, 0, 0)
    gpu_used = bool(vram_weights or vram_kv or vram_compute)
    if gpu_used:
        overhead += GPU_CONTEXT_BYTES
    host_compute = compute
    if vram_compute and _layers_on_gpu(shape, params) >= shape.n_layer:
        # every layer on the GPU: the CPU only embeds the tokens (token_embd stays in RAM) and stages the
        # inputs. With some layers left on the CPU, each side reserves a whole graph (an upper bound).
        host_compute = plan.n_ubatch * shape.n_embd * F32 + plan.n_ubatch * F32
    compute_total = vram_compute + host_compute
    vram = vram_weights + vram_kv + vram_compute + vram_projector + (GPU_CONTEXT_BYTES if gpu_used else 0)
    total = weights_bytes + total_kv + compute_total + overhead + projector_bytes
    return MemoryEstimate(
        weights_bytes=weights_bytes, kv_bytes=total_kv, compute_bytes=compute_total,
        overhead_bytes=overhead, projector_bytes=projector_bytes, ram_bytes=total - vram, vram_bytes=vram,
        n_ctx=plan.n_ctx, n_ctx_slot=plan.n_ctx_seq if plan.n_stream > 1 else plan.n_ctx,
        prompt_cache_limit_bytes=cache_limit, prompt_cache_given=params.cache_ram_given)


def _offloaded(shape: ModelShape, params: MemoryParams, kv_layers: list[int],
               compute: int, *, weights_bytes: int, parameter_count: int,
               projector_bytes: int) -> tuple[int, int, int, int]:
    """(weights, KV, compute, projector) bytes in VRAM with ``gpu_layers`` offloaded.

    llama.cpp offloads the *last* ``ngl`` repeating layers, and the output layer when ``ngl`` exceeds
    the layer count (src/llama-model.cpp: i_gpu_start); the token embeddings always stay in RAM. A
    layer's KV cache lives with its layer unless ``--no-kv-offload``. The header gives no per-tensor
    sizes, so the embeddings and the output matrix are sized as n_vocab × n_embd at the file's average
    bytes per weight and the rest is shared evenly between the layers.
    """
    n_layer = shape.n_layer
    ngl = n_layer + 1 if params.gpu_layers < 0 else params.gpu_layers
    offloaded_layers = _layers_on_gpu(shape, params)
    if ngl <= 0:
        return 0, 0, 0, 0
    per_weight = weights_bytes / parameter_count if parameter_count else 0.0
    matrix = int(shape.n_vocab * shape.n_embd * per_weight)
    embd_bytes, output_bytes = (matrix, matrix) if 2 * matrix < weights_bytes else (0, 0)
    layer_bytes = (weights_bytes - embd_bytes - output_bytes) / n_layer
    weights = int(layer_bytes * offloaded_layers) + (output_bytes if ngl > n_layer else 0)
    kv = sum(kv_layers[n_layer - offloaded_layers:]) if params.kv_offload else 0
    return weights, kv, compute, projector_bytes


def _layers_on_gpu(shape: ModelShape, params: MemoryParams) -> int:
    return shape.n_layer if params.gpu_layers < 0 else min(params.gpu_layers, shape.n_layer)


def _row_bytes(type_name: str, elements: int) -> int:
    block, block_bytes = KV_CACHE_TYPES[type_name]
    return -(-elements // block) * block_bytes


def _pad(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
