"""Which server the supervisor runs, how it starts it and how it tells that it is ready."""

from __future__ import annotations

from pathlib import Path

from llama_wrangler.runtime.pyserver import pyserver_runtime
from llama_wrangler.server.backend import LlamaServerBackend, PyServerBackend, server_backend
from llama_wrangler.settings import ServerSettings


def test_a_binary_is_llama_server_polled_on_health_and_read_through_props(tmp_path: Path) -> None:
    backend = server_backend(tmp_path / "llama-server")
    assert isinstance(backend, LlamaServerBackend)
    assert backend.program == tmp_path / "llama-server"
    assert backend.ready_path == "/health" and backend.reads_props
    argv = backend.argv(ServerSettings(), tmp_path / "m.gguf", "m", 8123)
    assert argv[0] == str(tmp_path / "llama-server")
    assert argv[argv.index("--port") + 1] == "8123" and argv[argv.index("--alias") + 1] == "m"


def test_the_llama_cpp_python_fallback_is_polled_on_models_and_has_no_props(tmp_path: Path) -> None:
    python = tmp_path / "python"
    backend = server_backend(pyserver_runtime(python))
    assert isinstance(backend, PyServerBackend)
    assert backend.ready_path == "/v1/models" and not backend.reads_props
    argv = backend.argv(ServerSettings(context_size=2048, api_key="k"), tmp_path / "m.gguf", "m", 8123)
    assert argv[:3] == [str(python), "-m", "llama_cpp.server"]
    assert argv[argv.index("--n_ctx") + 1] == "2048" and argv[argv.index("--model_alias") + 1] == "m"
    assert argv[argv.index("--api_key") + 1] == "k"
