"""What does the stable endpoint cost a client, and does it drop anything? One table from one run.

    .venv/bin/python bench/endpoint.py --runtime ~/.cache/llama-wrangler-ci/runtime-b11312-cpu [--reps 5]

The app's own wiring (ServerSupervisor + EndpointService) serves two tiny generated models. The load comes
from a separate process (an asyncio client), so the endpoint's loop thread never shares a GIL with it.

* streams — 1, 4 and 16 concurrent streaming completions, straight to llama-server's own port and through
  the endpoint, alternating which goes first in each repetition, against the *same* llama-server process:
  aggregate tokens/s (median of the repetitions) and time to first token (median over every stream).
* two models — two clients, one asking for each model, sending streams back to back: failures and how
  many swaps the scheduler needed.
* idle — 1,000 keep-alive connections that each made a request and sit idle: the app process's threads and
  resident memory before and while they are held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.tiny_models

PROMPT = "Once upon a time"


# ------------------------------------------------------------------------- the load (its own process)
async def one_stream(session: Any, url: str, model: str, tokens: int) -> dict[str, Any]:
    body = {"model": model, "prompt": PROMPT, "max_tokens": tokens, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    began = time.perf_counter()
    first = 0.0
    count = 0
    done = False
    try:
        async with session.post(f"{url}/v1/completions", json=body) as response:
            if response.status != 200:
                return {"ok": False, "error": f"HTTP {response.status}: {(await response.text())[:200]}"}
            async for line in response.content:
                if not line.startswith(b"data: "):
                    continue
                if line.strip() == b"data: [DONE]":
                    done = True
                    continue  # read on to the end of the body, as clients do
                event = json.loads(line[6:])
                if "error" in event:
                    return {"ok": False, "error": str(event["error"])[:200]}
                if event.get("choices") and event["choices"][0].get("text"):
                    count += 1
                    if not first:
                        first = time.perf_counter() - began
    except Exception as exc:
        return {"ok": False, "error": repr(exc)[:200]}
    return {"ok": done, "ttft": first, "tokens": count, "elapsed": time.perf_counter() - began,
            "error": "" if done else "stream ended without [DONE]"}


async def load(url: str, streams: int, tokens: int, models: list[str], rounds: int) -> dict[str, Any]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None)
    # A connection per stream, as llama-server itself closes one after each streamed answer.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        async def client(model: str) -> list[dict[str, Any]]:
            return [await one_stream(session, url, model, tokens) for _ in range(rounds)]

        began = time.perf_counter()
        per_client = await asyncio.gather(*(client(models[i % len(models)]) for i in range(streams)))
        wall = time.perf_counter() - began
    return {"wall": wall, "results": [result for results in per_client for result in results]}


async def hold_idle(url: str, count: int) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    held = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        held.append(writer)
    print("held", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for writer in held:
        writer.close()


def client_main(argv: list[str]) -> int:
    mode, url = argv[0], argv[1]
    if mode == "idle":
        asyncio.run(hold_idle(url, int(argv[2])))
        return 0
    streams, tokens, rounds = int(argv[2]), int(argv[3]), int(argv[4])
    print(json.dumps(asyncio.run(load(url, streams, tokens, argv[5].split(","), rounds))), flush=True)
    return 0


# ------------------------------------------------------------------------- the app side
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", type=Path, required=True, help="llama.cpp runtime dir (bin/llama-server)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64, help="tokens per stream")
    parser.add_argument("--rounds", type=int, default=4, help="streams each client sends, one after another")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections to hold")
    parser.add_argument("--embd", type=int, default=64, help="model width (64: the tests' tiny model, ~5k tokens/s)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--swap-requests", type=int, default=8, help="requests per client, two-model phase")
    args = parser.parse_args()

    import psutil
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from tests.support.tiny_models import write_tiny_llama_gguf

    from llama_wrangler.runtime.locate import runtime_from_dir
    from llama_wrangler.server.fleet import ServerFleet
    from llama_wrangler.server.ports import pick_free_port
    from llama_wrangler.server.run import ServeTarget
    from llama_wrangler.server.state import ServerState
    from llama_wrangler.server.supervisor import ServerSupervisor
    from llama_wrangler.services.endpoint import EndpointService
    from llama_wrangler.settings import ServerSettings

    app = QCoreApplication.instance() or QCoreApplication([])
    me = psutil.Process()

    def spin_until(done: Any, timeout_s: float = 600.0) -> None:
        loop = QEventLoop()
        deadline = time.monotonic() + timeout_s

        def check() -> None:
            if done() or time.monotonic() > deadline:
                loop.quit()

        timer = QTimer()
        timer.timeout.connect(check)
        timer.start(10)
        if not done():
            loop.exec()
        timer.stop()
        if not done():
            raise SystemExit("timed out")

    def run_client(*client_args: str) -> dict[str, Any]:
        """The load process, with this one's Qt loop turning meanwhile (swaps need it)."""
        process = subprocess.Popen([sys.executable, __file__, "--client", "load", *client_args], stdout=subprocess.PIPE,
                                   text=True)
        spin_until(lambda: process.poll() is not None)
        assert process.stdout is not None
        result: dict[str, Any] = json.loads(process.stdout.read())
        return result

    with tempfile.TemporaryDirectory(prefix="endpoint-bench-") as tmp:
        models = {name: write_tiny_llama_gguf(Path(tmp) / f"{name}.gguf", name=name, seed=seed, n_ctx_train=8192,
                                              n_embd=args.embd, n_layer=args.layers, n_head=max(4, args.embd // 64))
                  for name, seed in (("alpha", 1), ("beta", 2))}
        server = runtime_from_dir(args.runtime).server
        threads = max(1, (os.cpu_count() or 2) // 2)
        # One model at a time: the "two clients, two models" row measures swaps (bench/residency.py measures
        # the two models loaded side by side).
        settings = ServerSettings(port=pick_free_port("127.0.0.1"), parallel=16, context_size=16 * (args.tokens + 64),
                                  threads=threads, health_timeout_s=120.0, max_models=1)
        supervisor = ServerFleet(ServerSupervisor(server, settings))
        loads = [0]
        supervisor.state_changed.connect(lambda _o, new: loads.__setitem__(0, loads[0] + (new == ServerState.READY)))
        service = EndpointService(supervisor, lambda ref: ServeTarget(models[ref], ref))
        service.apply(settings, opening=True, strict=True)
        service.set_catalog(list(models))
        app.aboutToQuit.connect(supervisor.shutdown)
        supervisor.start(models["alpha"], "alpha")
        spin_until(lambda: supervisor.state is ServerState.READY)
        direct, through = supervisor.endpoint, service.url
        print(f"llama-server {server} (threads {threads}, 16 slots); {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}; model n_embd {args.embd}, {args.layers} layers; {args.tokens} tokens per "
              f"stream, {args.reps} repetitions", flush=True)
        run_client(direct, "4", str(args.tokens), "1", "alpha")  # warm-up, not counted

        loop_thread = service.server.thread_id if service.server else None

        def loop_cpu_s() -> float:
            times = [t for t in me.threads() if t.id == loop_thread]
            return times[0].user_time + times[0].system_time if times else 0.0

        rows: list[tuple[int, dict[str, list[float]]]] = []
        failures = 0
        for streams in (1, 4, 16):
            seen: dict[str, list[float]] = {"direct-tps": [], "endpoint-tps": [], "direct-ttft": [],
                                            "endpoint-ttft": [], "cpu": [], "tokens": []}
            for rep in range(args.reps):
                order = [("direct", direct), ("endpoint", through)]
                for name, url in order if rep % 2 == 0 else reversed(order):
                    cpu_before = loop_cpu_s()
                    batch = run_client(url, str(streams), str(args.tokens), str(args.rounds), "alpha")
                    ok = [r for r in batch["results"] if r["ok"]]
                    if name == "endpoint":  # summed over the repetitions: the clock ticks in 10 ms steps
                        seen["cpu"].append(loop_cpu_s() - cpu_before)
                        seen["tokens"].append(sum(r["tokens"] for r in ok))
                    failures += len(batch["results"]) - len(ok)
                    seen[f"{name}-tps"].append(sum(r["tokens"] for r in ok) / batch["wall"])
                    seen[f"{name}-ttft"].extend(r["ttft"] for r in ok)
            rows.append((streams, seen))
            print(f"{streams} streams: direct {statistics.median(seen['direct-tps']):.0f} tok/s, endpoint "
                  f"{statistics.median(seen['endpoint-tps']):.0f} tok/s", flush=True)

        loads_before = loads[0]
        began = time.perf_counter()
        swap_batch = run_client(through, "2", "16", str(args.swap_requests), "alpha,beta")
        swap_wall = time.perf_counter() - began
        swap_failed = [r["error"] for r in swap_batch["results"] if not r["ok"]]
        swaps = loads[0] - loads_before

        def ttft_p50() -> float:
            results = run_client(through, "1", str(args.tokens), str(args.rounds * 2), "alpha")["results"]
            return statistics.median(r["ttft"] for r in results if r["ok"])

        before_ttft = ttft_p50()
        before_threads, before_rss = me.num_threads(), me.memory_info().rss
        holder = subprocess.Popen([sys.executable, __file__, "--client", "idle", through, str(args.idle)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None and holder.stdin is not None
        held_line = holder.stdout.readline().strip()
        open_now = service.server.ask(lambda: service.server.web_server.open_connections) if service.server else 0
        held_threads, held_rss = me.num_threads(), me.memory_info().rss
        held_ttft = ttft_p50()
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(60)

        supervisor.shutdown()
        service.close()
        del app

    print()
    print(f"| measure (medians; {args.reps} repetitions × {args.rounds} streams per client) "
          "| straight to llama-server | through the endpoint | endpoint / direct |")
    print("|---|---:|---:|---:|")
    for streams, seen in rows:
        d_tps, e_tps = statistics.median(seen["direct-tps"]), statistics.median(seen["endpoint-tps"])
        d_ttft, e_ttft = statistics.median(seen["direct-ttft"]), statistics.median(seen["endpoint-ttft"])
        print(f"| {streams} stream{'s' if streams > 1 else ''}: tokens/s | {d_tps:.0f} | {e_tps:.0f} | "
              f"{e_tps / d_tps:.3f}× |")
        print(f"| {streams} stream{'s' if streams > 1 else ''}: time to first token, p50 ms | {d_ttft * 1000:.1f} | "
              f"{e_ttft * 1000:.1f} | {(e_ttft - d_ttft) * 1000:+.1f} ms |")
        print(f"| {streams} stream{'s' if streams > 1 else ''}: endpoint loop CPU per token, µs | — | "
              f"{sum(seen['cpu']) / max(1.0, sum(seen['tokens'])) * 1e6:.0f} | — |")
    sent = len(swap_batch["results"])
    print(f"| two clients, two models ({sent} streams): failed | — | {len(swap_failed)} of {sent} | — |")
    print(f"| two clients, two models: swaps, wall time | — | {swaps} swaps, {swap_wall:.1f} s | — |")
    print(f"| {args.idle} idle keep-alive connections ({held_line}, {open_now} open): app threads | "
          f"— | {before_threads} → {held_threads} | — |")
    print(f"| … app resident memory, MB | — | {before_rss / 1e6:.0f} → {held_rss / 1e6:.0f} | — |")
    print(f"| … one stream meanwhile: time to first token p50, ms | — | {before_ttft * 1000:.1f} → "
          f"{held_ttft * 1000:.1f} | — |")
    print(f"| stream failures in the throughput rows | — | {failures} | — |")
    for error in swap_failed[:5]:
        print(f"  failed: {error}")
    return 0 if not swap_failed and not failures else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        raise SystemExit(client_main(sys.argv[2:]))
    raise SystemExit(main())
