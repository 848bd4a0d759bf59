"""Fallback server: llama-cpp-python's OpenAI-compatible server, when no llama-server binary exists.

Used only when :func:`locate_runtime` finds no ``llama-server`` anywhere *and* ``llama_cpp.server`` is
importable (``pip install "llama-wrangler[llamacpp-python]"``, which compiles llama.cpp inside pip for
minutes, so a plain install does not include it). The runtime it describes has
``backend == "llama-cpp-python"`` and ``server`` = the Python interpreter to run it with; supervisors build
the command with :func:`pyserver_argv` instead of the llama-server argv and poll
:func:`readiness_path` (``/v1/models``: this server has no ``/health``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llama_wrangler.runtime.runtime_info import LlamaRuntime

PYSERVER_BACKEND = "llama-cpp-python"
LLAMA_SERVER_READY_PATH = "/health"  # 503 while loading, 200 when ready
PYSERVER_READY_PATH = "/v1/models"  # 200 once the model is loaded (it loads before listening)

FindSpec = Callable[[str], Any]


def pyserver_available(find_spec: FindSpec = importlib.util.find_spec) -> bool:
    """True when ``python -m llama_cpp.server`` can run in this interpreter (no import, no compile)."""
    try:
        return find_spec("llama_cpp") is not None and find_spec("llama_cpp.server") is not None
    except (ImportError, ValueError):
        return False


def pyserver_runtime(python: Path | None = None) -> LlamaRuntime:
    """The fallback runtime: no quantizer or conversion toolchain comes with it."""
    return LlamaRuntime(root=None, server=Path(python or sys.executable), quantize=None, convert_script=None,
                        convert_python=None, build_number=None, commit=None, backend=PYSERVER_BACKEND)


def is_pyserver(runtime: LlamaRuntime) -> bool:
    return runtime.backend == PYSERVER_BACKEND


def readiness_path(runtime: LlamaRuntime) -> str:
    """The URL path that answers 200 once the server can take requests."""
    return PYSERVER_READY_PATH if is_pyserver(runtime) else LLAMA_SERVER_READY_PATH


def pyserver_argv(python: Path, model_path: Path, *, host: str, port: int, n_ctx: int,
                  model_alias: str | None = None, n_gpu_layers: int | None = None, n_threads: int = 0,
                  api_key: str = "") -> list[str]:
    """argv for ``python -m llama_cpp.server`` (its flags use underscores: ``--n_ctx``)."""
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    argv = [str(python), "-m", "llama_cpp.server", "--model", str(model_path), "--host", host,
            "--port", str(port), "--n_ctx", str(n_ctx)]
    if model_alias:
        argv += ["--model_alias", model_alias]
    if n_gpu_layers is not None:
        argv += ["--n_gpu_layers", str(n_gpu_layers)]
    if n_threads > 0:
        argv += ["--n_threads", str(n_threads)]
    if api_key:
        argv += ["--api_key", api_key]
    return argv
