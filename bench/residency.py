"""What does a client see when it switches between two models: one at a time (stop, then start) against
both loaded side by side (residency)?

    .venv/bin/python bench/residency.py --runtime DIR [--reps 12] [--embd 512 --layers 8]

Generates two models of the same shape, then, for each mode, opens the stable endpoint on a free port with
the window's services (``ServerFleet`` + ``EndpointService``), loads alpha, and has a client (the official
``openai`` package, on a thread while the Qt loop turns) send ``reps`` rounds of alpha, beta, alpha, ... one
request at a time (8 tokens each). Baseline, measured in the same run: the same requests sent straight to a
llama-server that already has the model (no switch at all).

The switch gap of a request = its latency minus the baseline's median latency: what the switch added.
Side by side it should be ~0 ms (aim 0); one at a time it is a full stop + load every time.
Also printed: how many loads each mode needed, and each model's memory estimate against the RSS of its
llama-server once loaded (``bench/memory.py`` has the estimate in depth).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import psutil
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.tiny_models

from tests.support.tiny_models import write_tiny_llama_gguf  # noqa: E402

from llama_wrangler.library.gguf import read_gguf  # noqa: E402
from llama_wrangler.runtime.locate import runtime_from_dir  # noqa: E402
from llama_wrangler.server.endpoint.residency import Needs  # noqa: E402
from llama_wrangler.server.fleet import ServerFleet  # noqa: E402
from llama_wrangler.server.memory import estimate_memory  # noqa: E402
from llama_wrangler.server.ports import pick_free_port  # noqa: E402
from llama_wrangler.server.run import ServeTarget  # noqa: E402
from llama_wrangler.server.state import ServerState  # noqa: E402
from llama_wrangler.server.supervisor import ServerSupervisor  # noqa: E402
from llama_wrangler.services.endpoint import EndpointService  # noqa: E402
from llama_wrangler.settings import ServerSettings  # noqa: E402

TOKENS = 8


def spin_until(done: Callable[[], bool], timeout_s: float = 600.0) -> None:
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if done() else None)
    timer.start(5)
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        loop.exec()
    timer.stop()
    if not done():
        raise SystemExit("timed out")


def timed_requests(base_url: str, order: list[str]) -> list[float]:
    """Latency (s) of each request in ``order``, one after another (raises on any failure)."""
    times = []
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=600) as api:
        for model in order:
            began = time.perf_counter()
            answer = api.completions.create(model=model, prompt="hello", max_tokens=TOKENS)
            times.append(time.perf_counter() - began)
            if answer.model != model:
                raise SystemExit(f"asked {model}, answered by {answer.model}")
    return times


def in_thread_while_spinning(work: Callable[[], Any]) -> Any:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    thread.start()
    spin_until(lambda: not thread.is_alive())
    if not box:
        raise SystemExit("the client failed (see above)")
    return box[0]


def run_mode(server: Path, models: dict[str, Path], settings: ServerSettings, reps: int) -> dict[str, Any]:
    fleet = ServerFleet(ServerSupervisor(server, settings))
    service = EndpointService(fleet, lambda ref: ServeTarget(models[ref], ref))
    service.apply(settings, opening=True, strict=True)
    service.set_catalog(list(models))
    needs = {}
    for name, path in models.items():
        estimate = estimate_memory(read_gguf(path), path.stat().st_size, settings)
        needs[name] = Needs(ram_bytes=estimate.ram_bytes, mapped_bytes=estimate.weights_bytes)
    service.set_needs(needs)
    loads = [0]
    fleet.slots_changed.connect(lambda: None)
    fleet.start(models["alpha"], "alpha")
    spin_until(lambda: fleet.state is ServerState.READY)
    in_thread_while_spinning(lambda: timed_requests(service.url, ["alpha", "beta"]))  # warm both paths
    assert service.server is not None
    loads_before = service.server.ask(lambda: service.server.scheduler.loads_requested)  # type: ignore[union-attr]
    order = ["beta", "alpha"] * reps
    latencies = in_thread_while_spinning(lambda: timed_requests(service.url, order))
    loads[0] = service.server.ask(lambda: service.server.scheduler.loads_requested) - loads_before  # type: ignore[union-attr]
    rss = {}
    for sup in fleet.slots().values():
        if sup.pid and sup.model_id:
            rss[sup.model_id] = psutil.Process(sup.pid).memory_info().rss
    fleet.shutdown()
    service.close()
    return {"latencies": latencies, "loads": loads[0], "rss": rss, "needs": needs}


def baseline(server: Path, model: Path, settings: ServerSettings, count: int) -> list[float]:
    sup = ServerSupervisor(server, settings.model_copy(update={"port": pick_free_port("127.0.0.1")}))
    sup.start(model, "alpha")
    spin_until(lambda: sup.state is ServerState.READY)
    in_thread_while_spinning(lambda: timed_requests(sup.endpoint, ["alpha"] * 2))  # warm
    latencies: list[float] = in_thread_while_spinning(lambda: timed_requests(sup.endpoint, ["alpha"] * count))
    sup.shutdown()
    return latencies


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", type=Path, required=True, help="llama.cpp runtime dir (bin/llama-server)")
    parser.add_argument("--reps", type=int, default=12, help="alpha/beta round trips per mode")
    parser.add_argument("--embd", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    args = parser.parse_args()
    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    server = runtime_from_dir(args.runtime).server
    threads = max(1, (os.cpu_count() or 2) // 2)
    with tempfile.TemporaryDirectory(prefix="residency-bench-") as tmp:
        models = {name: write_tiny_llama_gguf(Path(tmp) / f"{name}.gguf", name=name, seed=seed, n_ctx_train=4096,
                                              n_embd=args.embd, n_layer=args.layers, n_head=max(4, args.embd // 64))
                  for name, seed in (("alpha", 1), ("beta", 2))}
        common = {"context_size": 1024, "parallel": 1, "threads": threads, "health_timeout_s": 120.0}
        print(f"llama-server {server}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; models n_embd "
              f"{args.embd}, {args.layers} layers ({models['alpha'].stat().st_size / 1e6:.0f} MB each); "
              f"{args.reps} alpha/beta round trips per mode, {TOKENS} tokens per request", flush=True)
        base = baseline(server, models["alpha"], ServerSettings(**common), 2 * args.reps)
        one = run_mode(server, models, ServerSettings(port=pick_free_port("127.0.0.1"), max_models=1, **common),
                       args.reps)
        both = run_mode(server, models, ServerSettings(port=pick_free_port("127.0.0.1"), max_models=4, **common),
                        args.reps)
        del app
    floor = statistics.median(base)
    gaps_one = [t - floor for t in one["latencies"]]
    gaps_both = [t - floor for t in both["latencies"]]
    print()
    print("| measure (medians unless said) | straight to llama-server (no switch) | one at a time (stop, then "
          "start) | side by side (residency) | side by side / one at a time |")
    print("|---|---:|---:|---:|---:|")
    print(f"| request latency, ms | {ms(floor)} | {ms(statistics.median(one['latencies']))} | "
          f"{ms(statistics.median(both['latencies']))} | "
          f"{statistics.median(both['latencies']) / statistics.median(one['latencies']):.3f}× |")
    print(f"| switch gap (latency − baseline), p50 ms | 0 | {ms(statistics.median(gaps_one))} | "
          f"{ms(statistics.median(gaps_both))} | — |")
    print(f"| switch gap, max ms | — | {ms(max(gaps_one))} | {ms(max(gaps_both))} | — |")
    print(f"| model loads for {2 * args.reps} switching requests | 0 | {one['loads']} | {both['loads']} | — |")
    for name in ("alpha", "beta"):
        need = both["needs"][name].ram_bytes
        rss = both["rss"].get(name)
        ratio = f"{need / rss:.2f}× of RSS" if rss else "—"
        print(f"| {name}: estimate vs RSS once loaded, MB | — | — | {need / 1e6:.0f} vs "
              f"{(rss or 0) / 1e6:.0f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
