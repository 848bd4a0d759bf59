"""How close is the memory estimate? One table per run: estimate vs llama-server's own buffer report vs
the process's resident memory after load.

    .venv/bin/python bench/memory.py --runtime ~/.cache/llama-wrangler-ci/runtime-b11312-cpu [--reps 3]

Generated llama models (tests/support/tiny_models.py): the tests' tiny one (n_embd 64, 2 layers, F32), a
grouped-query one (n_embd 256, 8 heads / 2 KV heads, F16), an 8-layer n_embd 512 F16 one, a Gemma 3
sliding-window one (tests/support/tiny_swa.py: 7 of 8 layers attend 512 tokens) and the 512 one
quantized to Q4_0 with the runtime's llama-quantize (whose weights llama.cpp repacks on AVX2 CPUs). Each
is served by the pinned llama-server with the app's own argv (``build_server_argv``, ``-lv 4`` added so it
logs its buffers) at 2-3 settings; RSS is read (psutil) once ``/health`` says the model is loaded, which
is after llama-server's warm-up run touched the weights. Sizes only: they do not depend on the machine's
load, but the load average is printed with the table all the same. RSS is the median of the repetitions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.tiny_models
sys.path.insert(0, str(ROOT / "src"))

MiB = 1024 * 1024
# (context, slots, extra args); a row llama-server would refuse for a model (a q8_0 cache needs heads of a
# multiple of 32) is left out
SETTINGS = [(2048, 1, ""), (8192, 4, ""), (4096, 2, "-fa off"), (4096, 2, "-ctk q8_0 -ctv q8_0")]


def make_models(folder: Path, quantize: Path) -> dict[str, Path]:
    from tests.support.tiny_models import FileType, write_tiny_llama_gguf
    from tests.support.tiny_swa import write_tiny_gemma3_gguf

    models = {
        "tiny": write_tiny_llama_gguf(folder / "tiny.gguf", name="tiny", seed=1),
        "gqa-256": write_tiny_llama_gguf(folder / "gqa.gguf", name="gqa", n_embd=256, n_layer=4, n_head=8,
                                         n_head_kv=2, n_ff=1024, n_vocab=1000, n_ctx_train=8192,
                                         file_type=FileType.F16, seed=5),
        "512x8-f16": write_tiny_llama_gguf(folder / "big.gguf", name="big", n_embd=512, n_layer=8, n_head=8,
                                           n_head_kv=4, n_vocab=2000, n_ctx_train=8192, file_type=FileType.F16),
    }
    models["gemma3-swa"] = write_tiny_gemma3_gguf(folder / "swa.gguf")
    q4 = folder / "big-q4_0.gguf"
    subprocess.run([str(quantize), str(models["512x8-f16"]), str(q4), "Q4_0"], check=True, capture_output=True)
    models["512x8-q4_0"] = q4
    return models


# token ids (word pieces of every generated vocabulary): more than one full micro-batch of 512
PROMPT = [259 + i % 100 for i in range(600)]


def serve_once(server: Path, model: Path, context: int, parallel: int, extra: str,
               log: Path) -> tuple[list[str], int, int]:
    """Start llama-server as the app would, wait for it to load, read its RSS, send one 600-token prompt,
    read the RSS again, stop it; (log lines, RSS loaded, RSS after the prompt)."""
    import httpx
    import psutil
    from bench.llama_process import ready_server

    from llama_wrangler.server.argv import build_server_argv
    from llama_wrangler.server.ports import pick_free_port
    from llama_wrangler.settings import ServerSettings

    port = pick_free_port("127.0.0.1")
    settings = ServerSettings(port=port, context_size=context, parallel=parallel, threads=1,
                              extra_args=f"-lv 4 {extra}".strip())
    argv = build_server_argv(server, settings, model, model.stem, port)
    with log.open("w", encoding="utf-8") as out, ready_server(
            argv, port, output=out, what_it_said=lambda: log.read_text(encoding="utf-8")[-2000:]) as process:
        rss = int(psutil.Process(process.pid).memory_info().rss)
        answer = httpx.post(f"http://127.0.0.1:{port}/completion", timeout=120,
                            json={"prompt": PROMPT, "n_predict": 4, "cache_prompt": False})
        if answer.status_code != 200:
            raise SystemExit(f"llama-server refused the prompt: {answer.text[:300]}")
        rss_used = int(psutil.Process(process.pid).memory_info().rss)
    return log.read_text(encoding="utf-8").splitlines(), rss, rss_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=Path, required=True, help="a llama.cpp runtime folder (bin/llama-server)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    from llama_wrangler.library.gguf import read_gguf
    from llama_wrangler.runtime.locate import runtime_from_dir
    from llama_wrangler.server.buffer_report import parse_buffer_lines
    from llama_wrangler.server.memory import RUNTIME_BYTES, estimate_memory
    from llama_wrangler.settings import ServerSettings

    runtime = runtime_from_dir(args.runtime)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        models = make_models(Path(tmp), args.runtime / "bin" / "llama-quantize")
        for name, model in models.items():
            info = read_gguf(model)
            for context, parallel, extra in SETTINGS:
                settings = ServerSettings(context_size=context, parallel=parallel, extra_args=extra)
                try:
                    estimate = estimate_memory(info, model.stat().st_size, settings)
                except ValueError:
                    continue
                loaded, used = [], []
                lines: list[str] = []
                for rep in range(args.reps):
                    lines, rss, rss_used = serve_once(runtime.server, model, context, parallel, extra,
                                                      Path(tmp) / f"{name}-{rep}.log")
                    loaded.append(rss)
                    used.append(rss_used)
                reported = parse_buffer_lines(lines)
                rows.append((name, model.stat().st_size, f"-c {context} -np {parallel} {extra}".strip(), estimate,
                             reported, statistics.median(loaded), statistics.median(used)))

    print(f"llama-server {runtime.server}; {os.cpu_count()} CPUs; load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after; {args.reps} starts per row (RSS: median)")
    print("sizes in MiB. buf = weights + KV + compute + output (what llama-server reports; est = ours, rep = "
          "its log); tot = our total (buf + runtime allowance); RSS after load / after one 600-token prompt")
    header = (f"{'model':<11} {'file':>5} {'settings':<34} {'KV est':>6} {'rep':>6} {'cmp est':>7} {'rep':>6} "
              f"{'buf est':>7} {'rep':>6} {'ratio':>5} {'tot est':>7} {'RSS':>6} {'ratio':>5} {'RSS 2':>6} "
              f"{'ratio':>5}")
    print(header)
    print("-" * len(header))
    for name, size, label, estimate, reported, rss, rss_used in rows:
        est_buffers = estimate.total_bytes - RUNTIME_BYTES
        total = estimate.total_bytes
        print(f"{name:<11} {size / MiB:5.1f} {label:<34} {estimate.kv_bytes / MiB:6.2f} {reported.kv_bytes / MiB:6.2f} "
              f"{estimate.compute_bytes / MiB:7.2f} {reported.compute_bytes / MiB:6.2f} {est_buffers / MiB:7.2f} "
              f"{reported.total_bytes / MiB:6.2f} {est_buffers / max(1, reported.total_bytes):5.2f} "
              f"{total / MiB:7.2f} {rss / MiB:6.1f} {total / rss:5.2f} {rss_used / MiB:6.1f} {total / rss_used:5.2f}")


if __name__ == "__main__":
    main()
