"""What this machine can hold: RAM (psutil) and GPU memory (``nvidia-smi`` when present), and the
estimate we use to say whether a model of a given size fits.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import psutil

# A Llama-3-8B-class model with grouped-query attention keeps K and V for 32 layers × 1024 dims in f16:
# 2 × 32 × 1024 × 2 bytes = 128 KiB per token of context. We do not read remote GGUF headers, so this
# stands in for every model; it is conservative for small models and roughly right for 7-13B ones.
KV_BYTES_PER_TOKEN = 2 * 32 * 1024 * 2
OVERHEAD = 0.10  # compute buffers, scratch, the runtime itself
RAM_SHARE = 0.8  # leave a fifth of RAM for the OS and other programs
MiB = 1024 * 1024
NVIDIA_SMI_QUERY = ("--query-gpu=memory.total,memory.free", "--format=csv,noheader,nounits")
NVIDIA_SMI_TIMEOUT_S = 3.0


def estimate_memory(file_size: int, context: int) -> int:
    """Bytes needed to run a model: ``(file_size + context × KV_BYTES_PER_TOKEN) × (1 + OVERHEAD)``.

    ``file_size`` is the GGUF's total size (all shards): llama.cpp maps the weights as they are on disk.
    The KV cache is ``context`` tokens at :data:`KV_BYTES_PER_TOKEN` (f16 K and V of an 8B-class model);
    the 10 % overhead covers compute buffers. A context of 0 (the model's own) is counted as 4096.
    """
    tokens = context if context > 0 else 4096
    return int((file_size + tokens * KV_BYTES_PER_TOKEN) * (1 + OVERHEAD))


class Fit(StrEnum):
    """Where a model of a given size would run on this machine (the search results' badge)."""

    VRAM = "fits in VRAM"
    RAM = "fits in RAM"
    TOO_LARGE = "too large"


@dataclass(frozen=True)
class MachineResources:
    ram_bytes: int
    vram_bytes: int = 0  # total over NVIDIA GPUs; 0 when none (or no nvidia-smi)
    pooled_bytes: int = 0  # free memory the worker pool offers when models are split across it

    @classmethod
    def detect(cls) -> MachineResources:
        return cls(ram_bytes=int(psutil.virtual_memory().total), vram_bytes=nvidia_vram_bytes())

    def fits(self, needed: int) -> bool:
        """Fully offloaded to the GPUs (and the pool's workers, whose layers are offloaded the same way), or
        run from RAM within :data:`RAM_SHARE` of it."""
        return needed <= self.vram_bytes + self.pooled_bytes or needed <= self.ram_bytes * RAM_SHARE

    def fit(self, needed: int) -> Fit:
        if needed <= self.vram_bytes:
            return Fit.VRAM
        return Fit.RAM if needed <= self.ram_bytes * RAM_SHARE else Fit.TOO_LARGE


def nvidia_vram_bytes(timeout: float = 5.0) -> int:
    """Total memory of the NVIDIA GPUs ``nvidia-smi`` lists, 0 when it is missing or fails."""
    return sum(gpu.total for gpu in read_nvidia_gpus(timeout_s=timeout))


@dataclass(frozen=True)
class GpuMemory:
    total: int
    free: int


def read_nvidia_gpus(nvidia_smi: str | None = None, *,
                     timeout_s: float = NVIDIA_SMI_TIMEOUT_S) -> list[GpuMemory]:
    """Each NVIDIA GPU's total and free memory; empty when the tool is missing, fails or times out."""
    exe = nvidia_smi or shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        result = subprocess.run([exe, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=timeout_s,
                                check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    if result.returncode != 0:
        return []
    return parse_nvidia_smi(result.stdout.splitlines())


def parse_nvidia_smi(lines: Sequence[str]) -> list[GpuMemory]:
    """``memory.total, memory.free`` lines in MiB (``81559, 80987``), one per GPU. Lines that are not two
    numbers (``[N/A]``, ``[Not Supported]``, a driver warning) are skipped."""
    gpus = []
    for line in lines:
        fields = [part.strip() for part in line.split(",")]
        if len(fields) != 2:
            continue
        try:
            total, free = (float(value) for value in fields)
        except ValueError:
            continue
        if total < 0 or free < 0 or free > total:
            continue
        gpus.append(GpuMemory(total=int(total * MiB), free=int(free * MiB)))
    return gpus
