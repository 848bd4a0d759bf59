"""What llama-server says it allocated, read from its log: the "llama-server says" beside our estimate.

llama.cpp logs every buffer it allocates at load (b11312; the lines are INFO inside the library, which
llama-server prints from verbosity 4, ``-lv 4``, upwards):

    load_tensors:   CPU_Mapped model buffer size =    63.94 MiB      (src/llama-model.cpp)
    load_tensors:   CPU_REPACK model buffer size =    16.88 MiB      (weights repacked for this CPU)
    llama_context:        CPU  output buffer size =     0.01 MiB     (src/llama-context.cpp)
    llama_kv_cache:        CPU KV buffer size =    16.00 MiB         (src/llama-kv-cache.cpp)
    llama_memory_recurrent:        CPU RS buffer size =  ... MiB     (recurrent state)
    sched_reserve:        CPU compute buffer size =    18.01 MiB     (src/llama-context.cpp)
    alloc_compute_meta:        CPU compute buffer size = ... MiB     (the vision projector, tools/mtmd/clip.cpp)

with the device in place of ``CPU`` on a GPU build (``CUDA0``, ``Metal``, ``Vulkan0``, ``CUDA_Host``...).
Its ``--fit`` step also logs its own projection ("projected to use 97 MiB of host memory").

Lines come with or without llama-server's ``0.00.008.670 I`` prefix. A new process's first lines start a
new report, so a log holding several runs describes the last one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MiB = 1024 * 1024


class BufferKind(StrEnum):
    MODEL = "model"  # weights (mapped, copied to a device, or repacked)
    KV = "kv"  # KV cache and recurrent state
    COMPUTE = "compute"  # graph buffers
    OUTPUT = "output"  # logits / embeddings
    PROJECTOR = "projector"  # the vision projector's compute buffer


_BUFFER = re.compile(
    r"(?P<func>\w+):\s+(?P<device>[\w.-]+)\s+(?:(?P<what>model|KV|RS|compute|output|LoRA)\s+)?"
    r"buffer size\s*=\s*(?P<size>\d+(?:\.\d+)?)\s*MiB")
_PROJECTED = re.compile(r"projected to use (?P<size>\d+) MiB of (?P<where>host|device) memory")
# The first lines a llama-server process prints (b11312, and older builds' "main: build = ").
_NEW_PROCESS = re.compile(r"llama_server: initializing|\bmain: build = |system_info: n_threads")
# The --fit step measures with throw-away models and contexts first; at high verbosity their buffers are
# logged too. Everything before the step's last line belongs to them.
_FIT_DONE = re.compile(r"fitting params to free memory took")
_NEW_CONTEXT = re.compile(r"llama_context: constructing llama_context")
_KINDS = {"model": BufferKind.MODEL, "KV": BufferKind.KV, "RS": BufferKind.KV, "compute": BufferKind.COMPUTE,
          "output": BufferKind.OUTPUT}


@dataclass(frozen=True)
class ReportedBuffers:
    """Bytes llama-server reported, by kind and device (``("model", "CPU_Mapped") -> bytes``)."""

    buffers: Mapping[tuple[BufferKind, str], int] = field(default_factory=dict)
    projected_host_bytes: int | None = None  # the --fit step's own projection, when it logged one
    projected_device_bytes: int | None = None

    def bytes_of(self, kind: BufferKind, device: str | None = None) -> int:
        return sum(size for (k, dev), size in self.buffers.items()
                   if k is kind and (device is None or dev == device))

    @property
    def model_bytes(self) -> int:
        return self.bytes_of(BufferKind.MODEL)

    @property
    def kv_bytes(self) -> int:
        return self.bytes_of(BufferKind.KV)

    @property
    def compute_bytes(self) -> int:
        return self.bytes_of(BufferKind.COMPUTE)

    @property
    def output_bytes(self) -> int:
        return self.bytes_of(BufferKind.OUTPUT)

    @property
    def projector_bytes(self) -> int:
        return self.bytes_of(BufferKind.PROJECTOR)

    @property
    def total_bytes(self) -> int:
        return sum(self.buffers.values())

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(sorted({device for _, device in self.buffers}))

    def by_device(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (_, device), size in self.buffers.items():
            totals[device] = totals.get(device, 0) + size
        return totals

    def __bool__(self) -> bool:
        return bool(self.buffers)


def parse_buffer_lines(lines: Iterable[str]) -> ReportedBuffers:
    """Sum the buffers a llama-server log reports (see the module docstring for the lines read).

    Weights, KV cache and output buffers add up (one line per buffer; several contexts, e.g. a draft
    model's, each report theirs). A context that reserves its graph again reports its compute buffer
    again: within one context the last report per device counts.
    """
    model_kv: dict[tuple[BufferKind, str], int] = {}
    compute: dict[tuple[int, BufferKind, str], int] = {}
    context = 0
    projected: dict[str, int] = {}
    for line in lines:
        if _NEW_PROCESS.search(line) or _FIT_DONE.search(line):
            model_kv.clear()
            compute.clear()
            if not _FIT_DONE.search(line):
                projected.clear()
            context = 0
            continue
        if _NEW_CONTEXT.search(line):
            context += 1
            continue
        match = _BUFFER.search(line)
        if match is None:
            found = _PROJECTED.search(line)
            if found:
                projected[found["where"]] = int(found["size"]) * MiB
            continue
        what = match["what"]
        if what is None or what == "LoRA":
            continue  # adapters and architecture-specific state: not part of a plain model's load
        size = round(float(match["size"]) * MiB)
        device = match["device"]
        if match["func"] == "alloc_compute_meta":
            compute[(context, BufferKind.PROJECTOR, device)] = size
        elif what == "compute":
            compute[(context, BufferKind.COMPUTE, device)] = size
        else:
            key = (_KINDS[what], device)
            model_kv[key] = model_kv.get(key, 0) + size
    buffers = dict(model_kv)
    for (_, kind, device), size in compute.items():
        buffers[(kind, device)] = buffers.get((kind, device), 0) + size
    return ReportedBuffers(buffers=buffers, projected_host_bytes=projected.get("host"),
                           projected_device_bytes=projected.get("device"))
