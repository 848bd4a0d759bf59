"""The llama-cpp-python fallback: argv, readiness path, and when it is offered."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from llama_wrangler.runtime.pyserver import (
    PYSERVER_BACKEND,
    is_pyserver,
    pyserver_argv,
    pyserver_available,
    pyserver_runtime,
    readiness_path,
)
from llama_wrangler.runtime.runtime_info import LlamaRuntime


def test_argv_uses_underscore_flags() -> None:
    argv = pyserver_argv(Path("/py/python"), Path("/m/x.gguf"), host="127.0.0.1", port=8123, n_ctx=2048,
                         model_alias="x", n_gpu_layers=-1, n_threads=4, api_key="k")
    assert argv == ["/py/python", "-m", "llama_cpp.server", "--model", "/m/x.gguf", "--host", "127.0.0.1",
                    "--port", "8123", "--n_ctx", "2048", "--model_alias", "x", "--n_gpu_layers", "-1",
                    "--n_threads", "4", "--api_key", "k"]


def test_argv_minimal_and_port_checked() -> None:
    argv = pyserver_argv(Path("py"), Path("m.gguf"), host="127.0.0.1", port=1, n_ctx=0)
    assert argv[-2:] == ["--n_ctx", "0"]
    with pytest.raises(ValueError, match="port"):
        pyserver_argv(Path("py"), Path("m.gguf"), host="127.0.0.1", port=0, n_ctx=0)


def test_readiness_differs_by_backend() -> None:
    runtime = pyserver_runtime(Path("/py/python"))
    assert runtime.backend == PYSERVER_BACKEND and is_pyserver(runtime)
    assert runtime.quantize is None and runtime.convert_script is None
    assert readiness_path(runtime) == "/v1/models"
    binary = LlamaRuntime(None, Path("/x/llama-server"), None, None, None, None, None, "cpu")
    assert readiness_path(binary) == "/health"
    assert not is_pyserver(binary)


def test_available_only_with_the_server_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not pyserver_available()  # the dev/test environment does not carry the optional extra
    # A real (empty) stand-in package on sys.path: what find_spec sees after `pip install llama-cpp-python`.
    package = tmp_path / "llama_cpp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert not pyserver_available()  # llama_cpp without its server module
        (package / "server").mkdir()
        (package / "server" / "__init__.py").write_text("")
        importlib.invalidate_caches()
        assert pyserver_available()
    finally:
        for name in [n for n in sys.modules if n == "llama_cpp" or n.startswith("llama_cpp.")]:
            del sys.modules[name]
