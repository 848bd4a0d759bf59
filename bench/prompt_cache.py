"""Does bounding llama-server's prompt cache keep a resident model within its planned memory? One table per
run: the RSS of one llama-server after a stream of distinct prompts, with llama-server's default cache
(8 GiB) as the baseline and with the bound residency gives it beside other models (``--cache-ram`` at the
KV cache's size, ``MemoryEstimate.bounded_prompt_cache_mib``), against what the plan counts.

    .venv/bin/python bench/prompt_cache.py --runtime ~/.cache/llama-wrangler-ci/runtime-b11312-cpu [--prompts 24]

The model is generated (tests/support/tiny_models.py: n_embd 512, 8 layers, 4 KV heads, F16; 8 KiB of KV
per token). One slot, 2,048 tokens of context; each prompt is 1,500 distinct tokens, so every new prompt
makes llama-server save the slot's last one into its cache. RSS (psutil) is read after the load and after
every prompt; the table gives the last reading and the peak. Sizes only: they do not depend on the machine's
load, but the load average is printed all the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.tiny_models
sys.path.insert(0, str(ROOT / "src"))

MiB = 1024 * 1024
CONTEXT = 2048
PROMPT_TOKENS = 1500


def prompt(index: int) -> list[int]:
    """Token ids every generated vocabulary has (its word pieces), distinct from the first token on."""
    return [259 + (index * 7 + i) % 100 for i in range(PROMPT_TOKENS)]


def run_prompts(server: Path, model: Path, extra: str, prompts: int) -> tuple[int, list[int]]:
    """(RSS after the load, RSS after each prompt) of one llama-server started as the app starts it."""
    import httpx
    import psutil
    from bench.llama_process import ready_server

    from llama_wrangler.server.argv import build_server_argv
    from llama_wrangler.server.ports import pick_free_port
    from llama_wrangler.settings import ServerSettings

    port = pick_free_port("127.0.0.1")
    settings = ServerSettings(port=port, context_size=CONTEXT, parallel=1, threads=2, extra_args=extra)
    argv = build_server_argv(server, settings, model, model.stem, port)
    with ready_server(argv, port) as process:
        loaded = int(psutil.Process(process.pid).memory_info().rss)
        after = []
        for index in range(prompts):
            answer = httpx.post(f"http://127.0.0.1:{port}/completion", timeout=300,
                                json={"prompt": prompt(index), "n_predict": 1, "cache_prompt": True})
            if answer.status_code != 200:
                raise SystemExit(f"llama-server refused prompt {index}: {answer.text[:300]}")
            after.append(int(psutil.Process(process.pid).memory_info().rss))
        return loaded, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=Path, required=True, help="a llama.cpp runtime folder (bin/llama-server)")
    parser.add_argument("--prompts", type=int, default=24)
    args = parser.parse_args()

    from tests.support.tiny_models import FileType, write_tiny_llama_gguf

    from llama_wrangler.library.gguf import read_gguf
    from llama_wrangler.runtime.locate import runtime_from_dir
    from llama_wrangler.server.memory import estimate_memory
    from llama_wrangler.settings import ServerSettings

    runtime = runtime_from_dir(args.runtime)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="prompt-cache-bench-") as tmp:
        model = write_tiny_llama_gguf(Path(tmp) / "big.gguf", name="big", n_embd=512, n_layer=8, n_head=8,
                                      n_head_kv=4, n_vocab=2000, n_ctx_train=8192, file_type=FileType.F16)
        estimate = estimate_memory(read_gguf(model), model.stat().st_size, ServerSettings(context_size=CONTEXT))
        bound = estimate.bounded_prompt_cache_mib()
        model_mib = model.stat().st_size / MiB
        rows = []
        for label, extra, planned in (
                ("llama-server's default (8 GiB cache, uncounted)", "", estimate.total_bytes),
                (f"bounded beside others (--cache-ram {bound}, counted)", f"--cache-ram {bound}",
                 estimate.total_bytes + bound * MiB)):
            loaded, after = run_prompts(runtime.server, model, extra, args.prompts)
            rows.append((label, planned, loaded, after[-1], max(after)))

    print(f"llama-server {runtime.server}; {os.cpu_count()} CPUs; load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after; model 512x8 F16 ({model_mib:.0f} MiB), "
          f"-c {CONTEXT} -np 1, {args.prompts} distinct prompts of {PROMPT_TOKENS} tokens; sizes in MiB")
    print()
    print("| prompt cache | planned | RSS loaded | RSS after the prompts | peak RSS | growth | peak / planned |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, planned, loaded, last, peak in rows:
        print(f"| {label} | {planned / MiB:.0f} | {loaded / MiB:.0f} | {last / MiB:.0f} | {peak / MiB:.0f} | "
              f"{(peak - loaded) / MiB:+.0f} | {peak / planned:.2f}× |")


if __name__ == "__main__":
    main()
