"""Our own GGUF header reader: fast, and safe on hostile input.

It reads the magic, version, key/value metadata and tensor infos — never tensor data. Big arrays
(tokenizer vocabularies, merges, scores) are skipped by length: fixed-size element arrays with one seek,
string arrays by walking their length prefixes without decoding. Reads are buffered (one chunk, parse from
memory, read more only when the parse runs past it), which is what makes it many times faster than
``gguf.GGUFReader`` (that one memory-maps the file and builds a numpy view per string).

Every count and length is checked against the bytes left in the file before anything is allocated, so an
absurd header costs a :class:`GGUFError`, never memory.

Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (little-endian; v2 and v3 share it).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

from llama_wrangler.errors import GGUFError
from llama_wrangler.library.gguf_reader import GGUFBuffer, MetaValue, read_value

# Bump when GGUFInfo gains a field or the reader's answers change: registries saved with an older value
# get their headers read again on load.
INFO_VERSION = 3  # 2: template_caps; 3: they count the tool_use template too
CHAT_TEMPLATE = "tokenizer.chat_template"
TOOL_USE_TEMPLATE = CHAT_TEMPLATE + ".tool_use"  # llama-server's template for a request with tools, if any

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
_HEADER = struct.Struct("<4sIQQ")  # magic, version, tensor count, metadata count
DEFAULT_ALIGNMENT = 32
GGML_MAX_DIMS = 4
# llama.cpp's llama_ftype (general.file_type) -> quant name.
FILE_TYPE_NAMES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_1_SOME_F16", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS",
    24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS",
    31: "IQ1_M", 32: "BF16", 33: "Q4_0_4_4", 34: "Q4_0_4_8", 35: "Q4_0_8_8", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}

# ggml tensor types -> (name, block size, bytes per block). Unknown (newer) types are tolerated: they
# still count towards parameters, only the data-size check skips them.
TENSOR_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}

@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF header says about a model (for a split model: all shards together)."""

    version: int
    architecture: str | None
    name: str | None
    parameter_count: int
    size_label: str | None
    file_type: int | None
    quant: str | None
    context_length: int | None
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    vocab_size: int | None
    tensor_count: int
    kv_count: int
    has_chat_template: bool
    split_no: int  # 0-based shard index (llama.cpp's ``split.no``); 0 when not split
    split_count: int  # 1 when not split
    alignment: int
    header_size: int  # bytes before tensor data (of the first shard)
    # Scalars, short strings and short arrays; long strings/arrays appear only in ``value_lengths`` or
    # not at all (their length is known, their content is not read).
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    value_lengths: Mapping[str, int] = field(default_factory=dict)
    # What the chat template (read whole, not kept) lets the model do beyond completion, as Ollama names
    # it: "tools", "thinking" (see :func:`template_capabilities`)
    template_caps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "template_caps", tuple(self.template_caps))  # a list from registry.json

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["metadata"] = dict(self.metadata)
        data["value_lengths"] = dict(self.value_lengths)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GGUFInfo:
        """Tolerant of registries written before a field existed: a missing field gets an empty value
        (the registry re-reads headers when :data:`INFO_VERSION` says they are stale)."""
        values: dict[str, Any] = {}
        for name, spec in cls.__dataclass_fields__.items():
            if name in data:
                values[name] = data[name]
            elif spec.default is not MISSING or spec.default_factory is not MISSING:
                continue
            else:
                text = str(spec.type)
                values[name] = None if "None" in text else False if text == "bool" else 0
        return cls(**values)

    @property
    def parameter_label(self) -> str:
        """``size_label`` when the file has one, else the tensor-derived count rounded (``1.1B``)."""
        return self.size_label or format_parameter_count(self.parameter_count)


def template_capabilities(template: str) -> tuple[str, ...]:
    """What a chat template lets a model do, as Ollama lists it in ``/api/show``: ``tools`` when it renders
    the request's tools, ``thinking`` when it has a reasoning switch or block. A Jinja template names them
    plainly (``tools``, ``enable_thinking``, ``<think>``): a word search, not a template evaluation."""
    caps = []
    if re.search(r"\btools\b", template):
        caps.append("tools")
    if re.search(r"enable_thinking|reasoning_content|<think>", template):
        caps.append("thinking")
    return tuple(caps)


def format_parameter_count(count: int) -> str:
    for limit, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= limit:
            value = count / limit
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return str(count)


@dataclass(frozen=True)
class _Header:
    """One file's parsed header (internal; :func:`read_gguf` turns it into a :class:`GGUFInfo`)."""

    version: int
    tensor_count: int
    kv_count: int
    metadata: dict[str, MetaValue]
    value_lengths: dict[str, int]
    parameter_count: int
    dominant_type: str | None
    alignment: int
    header_size: int
    chat_template: str | None = None  # the templates' text (with the tool_use one), for what they allow


def read_gguf(path: Path | str, *, check_data: bool = True) -> GGUFInfo:
    """Read one GGUF file's header. ``check_data`` also verifies the file is long enough for every
    tensor it declares (catches truncated downloads)."""
    header = _read_header(Path(path), check_data=check_data)
    return _to_info(header, [header])


def read_gguf_set(paths: Sequence[Path], *, check_data: bool = True) -> GGUFInfo:
    """Read every shard of a split model (shard 1 first) and describe the model as a whole."""
    if not paths:
        raise GGUFError("No files given.")
    headers = [_read_header(Path(p), check_data=check_data) for p in paths]
    return _to_info(headers[0], headers)


def _read_header(path: Path, *, check_data: bool) -> _Header:
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            return _parse(GGUFBuffer(file, size, path), check_data=check_data)
    except OSError as exc:
        raise GGUFError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def _parse(reader: GGUFBuffer, *, check_data: bool) -> _Header:
    name = reader.path.name
    if reader.size < _HEADER.size:
        if reader.buf[:4] != MAGIC[:len(reader.buf[:4])] or reader.size < 4:
            raise GGUFError(f"{name}: not a GGUF file (only {reader.size} bytes).")
        raise GGUFError(f"{name}: the file is truncated — the GGUF header needs {_HEADER.size} bytes but "
                        f"the file has {reader.size}.")
    magic, version, tensor_count, kv_count = _HEADER.unpack_from(reader.buf, 0)
    if magic != MAGIC:
        raise GGUFError(f"{name}: not a GGUF file (it starts with {magic!r}, not b'GGUF').")
    if version not in SUPPORTED_VERSIONS:
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        if swapped in (1, 2, 3):
            raise GGUFError(f"{name}: a big-endian GGUF file; only little-endian files are supported.")
        if version == 1:
            raise GGUFError(f"{name}: GGUF version 1 is too old (this app reads versions 2 and 3); "
                            "convert the model again with a current llama.cpp.")
        raise GGUFError(f"{name}: unsupported GGUF version {version} (this app reads versions 2 and 3).")
    reader.pos = _HEADER.size
    # The smallest key/value is 8 (key length) + 4 (type) + 1 (value) bytes; the smallest tensor
    # info is 8 (name length) + 4 (dims) + 4 (type) + 8 (offset). Larger counts cannot fit in the file.
    if kv_count * 13 > reader.remaining():
        raise GGUFError(f"{name}: the header claims {kv_count} metadata entries, which cannot fit in "
                        f"{reader.size} bytes.")
    if tensor_count * 24 > reader.remaining():
        raise GGUFError(f"{name}: the header claims {tensor_count} tensors, which cannot fit in "
                        f"{reader.size} bytes.")
    metadata: dict[str, MetaValue] = {}
    value_lengths: dict[str, int] = {}
    whole = {CHAT_TEMPLATE: "", TOOL_USE_TEMPLATE: ""}
    for index in range(kv_count):
        raw_key = reader.raw_string(f"the key of metadata entry {index}")
        try:
            key = raw_key.decode("utf-8")
        except UnicodeDecodeError:
            raise GGUFError(f"{name}: metadata entry {index} has a key that is not UTF-8 "
                            f"({raw_key[:40]!r}).") from None
        if key in metadata or key in value_lengths:
            raise GGUFError(f"{name}: the metadata key {key!r} appears twice.")
        value_type = reader.u32(f"the type of {key!r}")
        read_value(reader, key, value_type, metadata, value_lengths, whole)

    alignment = _alignment(metadata, name)
    parameter_count = 0
    type_elements: dict[str, int] = {}
    data_needed = 0
    seen_names: set[bytes] = set()
    for index in range(tensor_count):
        tensor_name = reader.raw_string(f"the name of tensor {index}")
        if tensor_name in seen_names:
            raise GGUFError(f"{name}: the tensor {tensor_name.decode('utf-8', 'replace')!r} appears twice.")
        seen_names.add(tensor_name)
        n_dims = reader.u32(f"the dimensions of tensor {index}")
        if n_dims > GGML_MAX_DIMS:
            raise GGUFError(f"{name}: tensor {index} has {n_dims} dimensions (at most {GGML_MAX_DIMS}).")
        elements = 1
        for _ in range(n_dims):
            elements *= reader.u64(f"a dimension of tensor {index}")
        if elements >= 2**63:
            raise GGUFError(f"{name}: tensor {index} claims {elements} elements.")
        tensor_type = reader.u32(f"the type of tensor {index}")
        offset = reader.u64(f"the data offset of tensor {index}")
        parameter_count += elements
        known = TENSOR_TYPES.get(tensor_type)
        if known is not None:
            type_name, block, block_bytes = known
            if n_dims >= 2:
                type_elements[type_name] = type_elements.get(type_name, 0) + elements
            data_needed = max(data_needed, offset + -(-elements // block) * block_bytes)
        else:
            data_needed = max(data_needed, offset)
    header_end = reader.pos
    data_start = -(-header_end // alignment) * alignment
    if check_data and tensor_count and data_start + data_needed > reader.size:
        raise GGUFError(f"{name}: the file is truncated — its tensors need {data_start + data_needed} bytes "
                        f"but the file has {reader.size} (an incomplete download?).")
    dominant = max(type_elements, key=lambda k: type_elements[k]) if type_elements else None
    return _Header(version, tensor_count, kv_count, metadata, value_lengths, parameter_count, dominant,
                   alignment, data_start if tensor_count else header_end,
                   "\n".join(text for text in whole.values() if text) or None)


def _alignment(metadata: Mapping[str, MetaValue], name: str) -> int:
    value = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value & (value - 1):
        raise GGUFError(f"{name}: general.alignment must be a power of two, not {value!r}.")
    return value


def _int(metadata: Mapping[str, MetaValue], key: str) -> int | None:
    value = metadata.get(key)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, list):  # per-layer values (e.g. head counts): report the largest
        numbers = [v for v in value if isinstance(v, int)]
        return max(numbers) if numbers else None
    return None


def _str(metadata: Mapping[str, MetaValue], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) and value else None


def _to_info(first: _Header, headers: Sequence[_Header]) -> GGUFInfo:
    meta = first.metadata
    arch = _str(meta, "general.architecture")
    file_type = _int(meta, "general.file_type")
    quant = FILE_TYPE_NAMES.get(file_type) if file_type is not None else None
    if quant is None:
        quant = next((h.dominant_type for h in headers if h.dominant_type), None)
    vocab = first.value_lengths.get("tokenizer.ggml.tokens")

    def arch_int(suffix: str) -> int | None:
        return _int(meta, f"{arch}.{suffix}") if arch else None

    split_count = _int(meta, "split.count") or 1
    return GGUFInfo(
        version=first.version,
        architecture=arch,
        name=_str(meta, "general.name"),
        parameter_count=sum(h.parameter_count for h in headers),
        size_label=_str(meta, "general.size_label"),
        file_type=file_type,
        quant=quant,
        context_length=arch_int("context_length"),
        block_count=arch_int("block_count"),
        embedding_length=arch_int("embedding_length"),
        head_count=arch_int("attention.head_count"),
        head_count_kv=arch_int("attention.head_count_kv"),
        vocab_size=vocab,
        tensor_count=sum(h.tensor_count for h in headers),
        kv_count=first.kv_count,
        has_chat_template=CHAT_TEMPLATE in meta or CHAT_TEMPLATE in first.value_lengths,
        split_no=_int(meta, "split.no") or 0,
        split_count=split_count,
        alignment=first.alignment,
        header_size=first.header_size,
        metadata=meta,
        value_lengths=first.value_lengths,
        template_caps=template_capabilities(first.chat_template or ""),
    )
