"""What a usable llama.cpp runtime is made of (found by :mod:`.locate`, or the Python fallback of
:mod:`.pyserver`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LlamaRuntime:
    """A usable llama.cpp runtime. ``root`` is None for a bare binary found on PATH or in settings.

    ``backend`` is 'cpu', 'cuda', 'metal', 'vulkan', 'rocm', 'llama-cpp-python' (the Python fallback
    server, see :mod:`llama_wrangler.runtime.pyserver`) or 'unknown' (a binary we did not build).
    """

    root: Path | None
    server: Path
    quantize: Path | None
    convert_script: Path | None
    convert_python: Path | None
    build_number: int | None
    commit: str | None
    backend: str
    # The RPC worker binary (``ggml-rpc-server``, or ``rpc-server`` in older trees), when the build has it.
    rpc_server: Path | None = None
