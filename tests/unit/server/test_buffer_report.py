"""Reading llama-server's buffer report from its log (captured b11312 output; GPU lines in the exact
format llama.cpp prints them)."""

from __future__ import annotations

import pytest

from llama_wrangler.server.buffer_report import BufferKind, parse_buffer_lines

MiB = 1024 * 1024

# llama-server -lv 4, CPU build, the generated 8-layer model at -c 2048 -np 1 (trimmed)
CPU_LOG = """\
0.00.003.697 I srv  llama_server: initializing ...
0.00.003.779 I cmn  common_param: system_info: n_threads = 1 (n_threads_batch = 1) / 2 | CPU : SSE3 = 1 |
0.00.012.435 I common_memory_breakdown_print: | memory breakdown [MiB] | total free self model context compute |
0.00.012.487 I common_memory_breakdown_print: |   - Host     |        97 =    63 +      16 +      18      |
0.00.012.747 I common_params_fit_impl: projected to use 97 MiB of host memory vs. 24105 MiB of total host memory
0.00.012.808 I common_fit_params: fitting params to free memory took 0.01 seconds
0.00.022.376 I load_tensors:   CPU_Mapped model buffer size =    63.94 MiB
0.00.022.729 I llama_context: constructing llama_context
0.00.022.991 I llama_context:        CPU  output buffer size =     0.01 MiB
0.00.023.065 I llama_kv_cache:        CPU KV buffer size =    16.00 MiB
0.00.023.070 I llama_kv_cache: size =   16.00 MiB (  2048 cells,   8 layers,  1/1 seqs), K (f16):    8.00 MiB
0.00.037.572 I sched_reserve:        CPU compute buffer size =    18.01 MiB
0.00.037.580 I sched_reserve: graph: nodes = 260, splits = 1, input objects = 4, input tensors = 6
0.00.049.142 I srv    load_model: initializing, n_slots = 1, n_ctx_slot = 2048, kv_unified = 'false'
""".splitlines()

# A CUDA build with every layer offloaded, a sliding-window model (two KV caches) and a vision projector
GPU_LOG = """\
load_tensors: offloaded 29/29 layers to GPU
load_tensors:        CUDA0 model buffer size =  3745.02 MiB
load_tensors:   CPU_Mapped model buffer size =   281.81 MiB
llama_context: constructing llama_context
llama_context:  CUDA_Host  output buffer size =     0.49 MiB
llama_kv_cache_iswa: creating non-SWA KV cache, size = 8192 cells
llama_kv_cache:      CUDA0 KV buffer size =   160.00 MiB
llama_kv_cache_iswa: creating     SWA KV cache, size = 1536 cells
llama_kv_cache:      CUDA0 KV buffer size =   150.00 MiB
sched_reserve:      CUDA0 compute buffer size =   258.50 MiB
sched_reserve:  CUDA_Host compute buffer size =    24.01 MiB
alloc_compute_meta:      CUDA0 compute buffer size =    72.00 MiB
alloc_compute_meta:        CPU compute buffer size =     1.50 MiB
""".splitlines()


def mib(value: float) -> int:
    return round(value * MiB)


def test_cpu_report() -> None:
    report = parse_buffer_lines(CPU_LOG)
    assert report.model_bytes == mib(63.94)
    assert report.kv_bytes == mib(16.0)  # the "size = ..." summary line is not a second buffer
    assert report.compute_bytes == mib(18.01)
    assert report.output_bytes == mib(0.01)
    assert report.total_bytes == mib(63.94) + mib(16.0) + mib(18.01) + mib(0.01)
    assert report.devices == ("CPU", "CPU_Mapped")
    assert report.projected_host_bytes == 97 * MiB
    assert report.projected_device_bytes is None
    assert report


def test_gpu_report_by_device() -> None:
    report = parse_buffer_lines(GPU_LOG)
    assert report.bytes_of(BufferKind.MODEL, "CUDA0") == mib(3745.02)
    assert report.bytes_of(BufferKind.MODEL, "CPU_Mapped") == mib(281.81)
    assert report.kv_bytes == mib(160.0) + mib(150.0)  # both caches of a sliding-window model
    assert report.compute_bytes == mib(258.5) + mib(24.01)
    assert report.projector_bytes == mib(72.0) + mib(1.5)
    assert report.by_device()["CUDA0"] == mib(3745.02) + mib(310.0) + mib(258.5) + mib(72.0)
    assert set(report.devices) == {"CUDA0", "CPU_Mapped", "CUDA_Host", "CPU"}


def test_repacked_weights_are_a_model_buffer_of_their_own() -> None:
    report = parse_buffer_lines([
        "load_tensors:   CPU_Mapped model buffer size =    17.70 MiB",
        "load_tensors:   CPU_REPACK model buffer size =    16.88 MiB",
    ])
    assert report.bytes_of(BufferKind.MODEL, "CPU_REPACK") == mib(16.88)
    assert report.model_bytes == mib(17.70) + mib(16.88)


def test_recurrent_state_counts_as_kv() -> None:
    report = parse_buffer_lines(["llama_memory_recurrent:        CPU RS buffer size =     2.67 MiB",
                                 "llama_kv_cache:        CPU KV buffer size =     4.00 MiB"])
    assert report.kv_bytes == mib(2.67) + mib(4.0)


def test_a_graph_reserved_again_replaces_its_compute_buffer() -> None:
    lines = ["llama_context: constructing llama_context",
             "sched_reserve:        CPU compute buffer size =    18.01 MiB",
             "sched_reserve:        CPU compute buffer size =    20.00 MiB",
             # a second context (a draft model) has a buffer of its own
             "llama_context: constructing llama_context",
             "sched_reserve:        CPU compute buffer size =     3.00 MiB"]
    assert parse_buffer_lines(lines).compute_bytes == mib(20.0) + mib(3.0)


def test_a_new_process_starts_a_new_report() -> None:
    report = parse_buffer_lines(CPU_LOG + CPU_LOG)
    assert report.model_bytes == mib(63.94)
    assert report.kv_bytes == mib(16.0)


def test_fit_step_dry_runs_are_not_counted() -> None:
    lines = ["llama_server: initializing ...",
             "load_tensors:   CPU_Mapped model buffer size =    63.94 MiB",  # the --fit step's measurement
             "sched_reserve:        CPU compute buffer size =    18.01 MiB",
             "common_fit_params: fitting params to free memory took 0.01 seconds",
             "load_tensors:   CPU_Mapped model buffer size =    63.94 MiB",
             "sched_reserve:        CPU compute buffer size =    18.01 MiB"]
    report = parse_buffer_lines(lines)
    assert report.model_bytes == mib(63.94)
    assert report.compute_bytes == mib(18.01)


@pytest.mark.parametrize("line", [
    "srv  log_server_r: request: GET /health 127.0.0.1 200",
    "print_info: file size   = 0.69 MiB (32.00 BPW)",
    "llama_kv_cache: size =    0.25 MiB (   512 cells,   2 layers,  1/1 seqs), K (f16):    0.12 MiB",
    "llama_adapter_lora_init_impl:        CPU LoRA buffer size =    10.00 MiB",
    "load_tensors: model buffer size = lots MiB",
    "",
])
def test_other_lines_are_not_buffers(line: str) -> None:
    report = parse_buffer_lines([line])
    assert not report
    assert report.total_bytes == 0
