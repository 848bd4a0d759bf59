"""The llama-server options that decide how much memory a model takes, read from effective settings.

``ServerSettings`` holds context, slots and GPU layers as fields; everything else a user may set arrives
in ``extra_args`` as llama-server would read it. :func:`memory_params` picks out the options that change
memory (KV cache types, Flash Attention, KV offload, full-size SWA cache, batch sizes, a unified KV cache,
``--fit``, the prompt cache, embeddings, mmap) and leaves every other argument alone. Defaults are
llama.cpp's at the pinned build (b11312: ``common/common.h``, ``common/arg.cpp``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llama_wrangler.settings import ServerSettings

# ggml's KV cache types llama-server accepts (common/arg.cpp: kv_cache_types) -> (block size, bytes per block).
KV_CACHE_TYPES: dict[str, tuple[int, int]] = {
    "f32": (1, 4), "f16": (1, 2), "bf16": (1, 2), "q8_0": (32, 34), "q4_0": (32, 18), "q4_1": (32, 20),
    "iq4_nl": (32, 18), "q5_0": (32, 22), "q5_1": (32, 24),
}
DEFAULT_BATCH = 2048  # common_params::n_batch
DEFAULT_UBATCH = 512  # common_params::n_ubatch
DEFAULT_CACHE_RAM_MIB = 8192  # common_params::cache_ram_mib: the server's prompt cache in host memory

_TRUE = {"on", "enabled", "true", "1", "yes"}
_FALSE = {"off", "disabled", "false", "0", "no"}


@dataclass(frozen=True)
class MemoryParams:
    """What llama-server will be asked for, as far as memory goes."""

    n_ctx: int  # -c as given: 0 = the model's own training context
    n_parallel: int  # -np: slots, i.e. sequences (llama.cpp's n_seq_max)
    gpu_layers: int  # -ngl: -1 = all
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: bool | None = None  # None = auto (on where the backend supports it: every CPU build)
    kv_offload: bool = True  # False with --no-kv-offload: the KV cache stays in RAM
    swa_full: bool = False
    kv_unified: bool = False  # one KV buffer shared by all slots (-kvu); off when -np is given
    n_batch: int = DEFAULT_BATCH
    n_ubatch: int = DEFAULT_UBATCH
    fit: bool = True  # --fit: with -c 0 it sizes the context n_ctx_train per slot
    cache_ram_mib: int = DEFAULT_CACHE_RAM_MIB  # -1 = no limit, 0 = off
    cache_ram_given: bool = False  # the arguments set --cache-ram (else llama-server's default applies)
    embeddings: bool = False
    mmap: bool = True


def memory_params(settings: ServerSettings) -> MemoryParams:
    """The memory-relevant options of ``settings`` (fields plus ``extra_args``); later flags win, as in
    llama-server."""
    return parse_memory_args(settings.extra_arg_list(), n_ctx=settings.context_size,
                             n_parallel=settings.parallel, gpu_layers=settings.gpu_layers)


def parse_memory_args(args: Sequence[str], *, n_ctx: int, n_parallel: int, gpu_layers: int) -> MemoryParams:
    """Read the options that change memory from an argument list; an option we do not know is ignored
    (llama-server itself rejects what is wrong), a memory option with an unreadable value raises
    ``ValueError`` naming it."""
    values: dict[str, object] = {}
    index = 0
    while index < len(args):
        flag, inline = _split(args[index])
        index += 1
        if flag not in _TAKES_VALUE:
            if flag in _SWITCHES:
                name, setting = _SWITCHES[flag]
                values[name] = setting
            continue
        if inline is None:
            if index >= len(args):
                raise ValueError(f"{flag} needs a value")
            inline = args[index]
            index += 1
        name, read = _TAKES_VALUE[flag]
        values[name] = read(flag, inline)
    return MemoryParams(n_ctx=n_ctx, n_parallel=max(1, n_parallel), gpu_layers=gpu_layers,
                        cache_ram_given="cache_ram_mib" in values, **values)  # type: ignore[arg-type]  # keys and types checked above


def _fit(flag: str, text: str) -> bool:
    return _switch(flag, text) is not False


def _cache_ram(flag: str, text: str) -> int:
    return _int(flag, text, minimum=-1)


def _split(arg: str) -> tuple[str, str | None]:
    flag, inline = arg.split("=", 1) if arg.startswith("--") and "=" in arg else (arg, None)
    if flag.startswith("--"):  # llama-server reads a long flag's underscores as dashes (--cache_ram)
        flag = flag.replace("_", "-")
    return flag, inline


def _cache_type(flag: str, text: str) -> str:
    name = text.strip().lower()
    if name not in KV_CACHE_TYPES:
        raise ValueError(f"{flag}: unknown KV cache type {text!r} (llama-server takes "
                         f"{', '.join(KV_CACHE_TYPES)})")
    return name


def _switch(flag: str, text: str) -> bool | None:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    if word == "auto":
        return None
    raise ValueError(f"{flag}: expected on, off or auto, not {text!r}")


def _int(flag: str, text: str, *, minimum: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"{flag}: {text!r} is not a whole number") from None
    if number < minimum:
        raise ValueError(f"{flag}: must be at least {minimum}, not {number}")
    return number


def _positive(flag: str, text: str) -> int:
    return _int(flag, text, minimum=1)


_Reader = Callable[[str, str], object]
# flag -> (MemoryParams field, how its value is read)
_TAKES_VALUE: dict[str, tuple[str, _Reader]] = {
    "-ctk": ("type_k", _cache_type), "--cache-type-k": ("type_k", _cache_type),
    "-ctv": ("type_v", _cache_type), "--cache-type-v": ("type_v", _cache_type),
    "-fa": ("flash_attn", _switch), "--flash-attn": ("flash_attn", _switch),
    "-b": ("n_batch", _positive), "--batch-size": ("n_batch", _positive),
    "-ub": ("n_ubatch", _positive), "--ubatch-size": ("n_ubatch", _positive),
    "-fit": ("fit", _fit), "--fit": ("fit", _fit),
    "-cram": ("cache_ram_mib", _cache_ram), "--cache-ram": ("cache_ram_mib", _cache_ram),
}
# flag -> (MemoryParams field, the value it sets)
_SWITCHES: dict[str, tuple[str, bool]] = {
    "-nkvo": ("kv_offload", False), "--no-kv-offload": ("kv_offload", False),
    "-kvo": ("kv_offload", True), "--kv-offload": ("kv_offload", True),
    "--swa-full": ("swa_full", True),
    "-kvu": ("kv_unified", True), "--kv-unified": ("kv_unified", True),
    "-no-kvu": ("kv_unified", False), "--no-kv-unified": ("kv_unified", False),
    "--embedding": ("embeddings", True), "--embeddings": ("embeddings", True),
    "--no-mmap": ("mmap", False), "--mmap": ("mmap", True),
}
