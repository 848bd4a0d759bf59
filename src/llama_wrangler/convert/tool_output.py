"""Read progress and failure reasons out of ``convert_hf_to_gguf.py`` and ``llama-quantize`` output."""

from __future__ import annotations

import json
import re
import struct
from collections import deque
from pathlib import Path

from llama_wrangler.progress import Progress, ProgressCallback

# "INFO:hf-to-gguf:blk.0.attn_q.weight,  torch.float32 --> F16, shape = {64, 64}"
_TENSOR = re.compile(r"^INFO:hf-to-gguf:\S+,\s+torch\.\w+ --> \w+, shape")
# tqdm: "Writing:  45%|████▌     | 90.0k/200k [...]"
_WRITING = re.compile(r"^Writing:\s+(\d+)%")
# "[  12/ 201]     blk.0.attn_q.weight - [ 64, 64, 1, 1], type = f16, converting to q4_K .. size = ..."
_QUANT_TENSOR = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]")
_NOISE = re.compile(r"^(Writing:|INFO:|\s*$|\[\s*\d+/)")


def safetensors_tensor_count(folder: Path) -> int:
    """How many tensors the folder's ``*.safetensors`` hold (from their JSON headers; no weights read)."""
    count = 0
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with path.open("rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(min(length, 100 * 1024 * 1024)))
            count += sum(1 for key in header if key != "__metadata__")
        except (OSError, ValueError, struct.error):
            continue
    return count


class ConverterOutput:
    """Feed lines with :meth:`line`; reports stage 'convert' (tensors) then 'write' (percent)."""

    def __init__(self, progress: ProgressCallback, tensors: int, label: str) -> None:
        self._progress = progress
        self._total = max(1, tensors)
        self._label = label
        self._seen = 0
        self.tail: deque[str] = deque(maxlen=40)

    def line(self, text: str) -> None:
        self.tail.append(text)
        if _TENSOR.match(text):
            self._seen += 1
            self._progress(Progress("convert", min(self._seen, self._total), self._total, self._label))
            return
        match = _WRITING.match(text)
        if match:
            self._progress(Progress("write", int(match[1]), 100, self._label))


class QuantizeOutput:
    def __init__(self, progress: ProgressCallback, label: str) -> None:
        self._progress = progress
        self._label = label
        self.tail: deque[str] = deque(maxlen=40)

    def line(self, text: str) -> None:
        self.tail.append(text)
        match = _QUANT_TENSOR.match(text)
        if match:
            self._progress(Progress("quantize", int(match[1]), int(match[2]), self._label))


def failure_reason(lines: list[str] | deque[str], *, keep: int = 3) -> str:
    """The tool's own words for why it failed: the last error-looking line (a Python exception, an
    ``error:``), else its last few meaningful lines."""
    meaningful = [line.strip() for line in lines if not _NOISE.match(line) and line.strip()]
    for line in reversed(meaningful):
        if re.search(r"(Error|Exception|error:|failed|not supported)", line):
            return line
    return " / ".join(meaningful[-keep:]) or "no output"
