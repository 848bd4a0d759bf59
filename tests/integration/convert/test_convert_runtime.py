"""Conversion with the real llama.cpp toolchain: a tiny safetensors Llama repo on the loopback hub is
fetched, converted, quantized, registered, and then served by a real llama-server."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from llama_wrangler.convert.hf_snapshot import convert_repo
from llama_wrangler.convert.pipeline import ConvertOptions, convert_folder, requantize
from llama_wrangler.errors import CancelledError, ConversionError
from llama_wrangler.library.gguf import read_gguf
from llama_wrangler.library.origins import ConvertOrigin
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.runtime.locate import runtime_from_dir
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import parse_hf_input
from tests.support.fake_hub import FakeHub
from tests.support.tiny_hf import make_tiny_llama
from tests.support.tiny_models import FileType, write_tiny_llama_gguf

pytestmark = pytest.mark.runtime

REPO = "org/tiny-llama"


@pytest.fixture
def runtime(runtime_dir: Path) -> LlamaRuntime:
    return runtime_from_dir(runtime_dir)


@pytest.fixture
def library(app_paths: AppPaths) -> Library:
    return Library(app_paths, hash_in_background=False).load()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(runtime: LlamaRuntime) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(model: Path) -> str:
        port = _free_port()
        proc = subprocess.Popen([str(runtime.server), "-m", str(model), "--host", "127.0.0.1", "--port",
                                 str(port), "-c", "256", "-t", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, "llama-server exited while loading the converted model"
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("llama-server did not become ready")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_repo_converts_quantizes_and_serves(tmp_path: Path, app_paths: AppPaths, library: Library,
                                            runtime: LlamaRuntime, serve: object) -> None:
    folder = make_tiny_llama(tmp_path / "tiny-llama")
    with FakeHub() as hub:
        repo = hub.add_repo(REPO, {p.name: p for p in folder.iterdir()})
        reports: list[Progress] = []
        record = convert_repo(parse_hf_input(f"hf:{REPO}"), access=HubAccess(hub.endpoint),
                              options=ConvertOptions(runtime, "Q4_K_M"), paths=app_paths, library=library,
                              progress=reports.append)
    assert record.source == "convert" and record.owned
    assert record.origin == ConvertOrigin(quant="Q4_K_M", outtype="f16", repo=REPO, revision=repo.sha,
                                          files=("model.safetensors",))
    assert record.path == library.models_dir / "org" / "tiny-llama" / "tiny-llama-Q4_K_M.gguf"
    assert read_gguf(record.path).quant == "Q4_K_M"
    stages = [r.stage for r in reports]
    assert {"download", "convert", "quantize"} <= set(stages)
    assert stages.index("download") < stages.index("convert") < stages.index("quantize")
    # Intermediates (snapshot, f16 GGUF) are gone.
    assert list(app_paths.convert_dir.iterdir()) == []
    assert list(app_paths.downloads_dir.iterdir()) == []

    base = serve(record.path)  # type: ignore[operator]
    answer = httpx.post(f"{base}/v1/completions", json={"prompt": "Hello", "max_tokens": 4, "temperature": 0},
                        timeout=60).json()
    assert answer["usage"]["completion_tokens"] > 0


def test_unsupported_architecture_gives_the_converters_reason(tmp_path: Path, app_paths: AppPaths,
                                                              library: Library, runtime: LlamaRuntime) -> None:
    folder = make_tiny_llama(tmp_path / "odd", architecture="NopeForCausalLM")
    with pytest.raises(ConversionError, match="NopeForCausalLM") as info:
        convert_folder(folder, options=ConvertOptions(runtime), paths=app_paths, library=library)
    assert "not supported" in str(info.value)
    assert library.models() == []
    assert list(app_paths.convert_dir.iterdir()) == []


def test_cancel_kills_the_converter(tmp_path: Path, app_paths: AppPaths, library: Library,
                                    runtime: LlamaRuntime) -> None:
    folder = make_tiny_llama(tmp_path / "tiny-llama")
    cancel = CancelToken()
    killed: list[psutil.Process] = []

    def converters() -> list[psutil.Process]:
        return [p for p in psutil.Process().children(recursive=True)
                if "convert_hf_to_gguf" in " ".join(p.cmdline())]

    def cancel_once_running() -> None:
        # Like a user pressing Cancel while the converter runs (it is still importing torch).
        deadline = time.monotonic() + 30
        while not converters() and time.monotonic() < deadline:
            time.sleep(0.05)
        killed.extend(converters())
        cancel.cancel()

    watcher = threading.Thread(target=cancel_once_running)
    watcher.start()
    with pytest.raises(CancelledError):
        convert_folder(folder, options=ConvertOptions(runtime), paths=app_paths, library=library,
                       cancel=cancel)
    watcher.join()
    assert killed, "the converter never started"
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in killed)
    assert library.models() == []
    assert list(app_paths.convert_dir.iterdir()) == []


def test_requantize_an_f16_gguf(tmp_path: Path, app_paths: AppPaths, library: Library,
                                runtime: LlamaRuntime, serve: object) -> None:
    source = write_tiny_llama_gguf(tmp_path / "tiny-F16.gguf", file_type=FileType.F16)
    record = requantize(source, "q8_0", runtime=runtime, paths=app_paths, library=library)
    assert record.path == library.models_dir / "converted" / "tiny-Q8_0.gguf"
    assert read_gguf(record.path).quant == "Q8_0"
    assert record.origin == ConvertOrigin(quant="Q8_0", base=str(source))
    assert list(app_paths.convert_dir.iterdir()) == []
    base = serve(record.path)  # type: ignore[operator]
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200
