"""The memory estimate against the real llama-server's own buffer report (sizes only, never times).

Each case starts the pinned llama-server through ``ServerSupervisor`` (as the app does, with ``-lv 4`` so
llama.cpp's buffer lines reach the log), reads its report from ``log_lines()`` with
``parse_buffer_lines``, and compares it with ``estimate_memory`` for the same header and settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.library.gguf import read_gguf
from llama_wrangler.server.buffer_report import BufferKind, parse_buffer_lines
from llama_wrangler.server.machine_memory import process_rss
from llama_wrangler.server.memory import estimate_memory
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import ServerSettings
from tests.support.server_fixtures import TinyModels
from tests.support.tiny_models import FileType, write_tiny_llama_gguf
from tests.support.tiny_swa import write_tiny_gemma3_gguf

pytestmark = pytest.mark.runtime

MiB = 1024 * 1024
READY_TIMEOUT_MS = 60_000
# llama.cpp prints sizes in MiB with two decimals: a rounding of up to 0.005 MiB on each line.
PRINT_ROUNDING = 0.01 * MiB
COMPUTE_BOUND = 0.10  # the compute model is within 6 % on every model measured; the test allows 10 %


@pytest.fixture(scope="module")
def gqa_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Grouped-query attention (8 heads of 32, 2 KV heads: a q8_0 cache needs head sizes in 32s), F16
    weights, a wider feed-forward and vocabulary."""
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("gqa") / "gqa.gguf", name="gqa", n_embd=256,
                                 n_layer=4, n_head=8, n_head_kv=2, n_ff=1024, n_vocab=1000, n_ctx_train=4096,
                                 file_type=FileType.F16, seed=5)


@pytest.fixture(scope="module")
def swa_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma 3 layout: 7 of 8 layers attend a 512-token window, one the whole context."""
    return write_tiny_gemma3_gguf(tmp_path_factory.mktemp("swa") / "swa.gguf")


@pytest.fixture
def serve(qtbot: QtBot, llama_server_binary: Path, app_paths: Any) -> Iterator[Callable[..., ServerSupervisor]]:
    made: list[ServerSupervisor] = []

    def start(model: Path, **settings: Any) -> ServerSupervisor:
        extra = " ".join(["-lv 4", settings.pop("extra_args", "")]).strip()
        supervisor = ServerSupervisor(
            llama_server_binary,
            ServerSettings(port=pick_free_port("127.0.0.1"), health_timeout_s=60.0, stop_grace_s=3.0, threads=1,
                           auto_restart=False, extra_args=extra, **settings),
            log_file=app_paths.server_log_file)
        made.append(supervisor)
        supervisor.start(model, model.stem)
        qtbot.waitUntil(lambda: supervisor.state in (ServerState.READY, ServerState.CRASHED),
                        timeout=READY_TIMEOUT_MS)
        assert supervisor.state is ServerState.READY, "\n".join(supervisor.log_lines()[-15:])
        return supervisor

    yield start
    for supervisor in made:
        supervisor.shutdown()


CASES = [
    # (model, context, parallel, extra args)
    ("alpha", 512, 1, ""),
    ("alpha", 2048, 4, ""),
    ("beta", 0, 2, "-fa off"),  # the model's own context, for each slot
    ("beta", 1000, 3, ""),  # padded: 1024 / 3 -> 512 per slot
    ("gqa", 4096, 2, "-ctk q8_0 -ctv q8_0"),
    ("gqa", 2048, 1, "-fa off -ub 256"),
    ("swa", 8192, 1, ""),  # two KV caches: 8192 cells for the full layer, 1024 for the sliding ones
    ("swa", 8192, 2, "-fa off"),
    ("swa", 4096, 1, "--swa-full"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "context", "parallel", "extra"), CASES)
def test_estimate_matches_llama_servers_buffers(serve: Callable[..., ServerSupervisor], tiny_models: TinyModels,
                                                gqa_model: Path, swa_model: Path, name: str, context: int,
                                                parallel: int, extra: str) -> None:
    model = {"gqa": gqa_model, "swa": swa_model}.get(name) or getattr(tiny_models, name)
    supervisor = serve(model, context_size=context, parallel=parallel, extra_args=extra)
    reported = parse_buffer_lines(supervisor.log_lines())
    settings = supervisor.settings
    estimate = estimate_memory(read_gguf(model), model.stat().st_size, settings)

    assert reported, "llama-server logged no buffer sizes (is -lv 4 still enough?)"
    assert reported.devices == ("CPU", "CPU_Mapped")  # the CPU build maps the F32/F16 weights as they are
    assert supervisor.props["default_generation_settings"]["n_ctx"] == estimate.n_ctx_slot
    assert estimate.kv_bytes == pytest.approx(reported.kv_bytes, abs=PRINT_ROUNDING, rel=0.02)
    assert estimate.weights_bytes == pytest.approx(reported.bytes_of(BufferKind.MODEL), abs=PRINT_ROUNDING,
                                                   rel=0.01)
    assert estimate.compute_bytes == pytest.approx(reported.compute_bytes, abs=PRINT_ROUNDING, rel=COMPUTE_BOUND)
    assert estimate.vram_bytes == 0 and estimate.ram_bytes == estimate.total_bytes
    pid = supervisor.pid
    assert pid is not None
    rss = process_rss(pid)
    assert rss is not None and rss > 0
