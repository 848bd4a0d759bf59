"""What this machine can hold: RAM (psutil) and GPU memory (``nvidia-smi`` when present), and the
estimate we use to say whether a model of a given size fits.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum

import psutil

# A Llama-3-8B-class model with grouped-query attention keeps K and V for 32 layers × 1024 dims in f16:
# 2 × 32 × 1024 × 2 bytes = 128 KiB per token of context. We do not read remote GGUF headers, so this
# stands in for every model; it is conservative for small models and roughly right for 7-13B ones.
KV_BYTES_PER_TOKEN = 2 * 32 * 1024 * 2
OVERHEAD = 0.10  # compute buffers, scratch, the runtime itself
RAM_SHARE = 0.8  # leave a fifth of RAM for the OS and other programs


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
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    total_mib = 0
    for line in out.splitlines():
        try:
            total_mib += int(float(line.strip()))
        except ValueError:
            continue
    return total_mib * 1024 * 1024
