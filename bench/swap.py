"""How much does the supervisor add to llama-server's own start time, and how fast does it stop?

    .venv/bin/python bench/swap.py --runtime /tmp/dev-runtime [--reps 5] [--embd 2048 --layers 4]

Generates a model of a few hundred MB in a temp dir, then per repetition measures:

* floor  — spawn llama-server directly, poll ``/health`` in a tight loop until 200 (the best possible);
* start  — ``supervisor.start()`` from stopped until the ``ready`` state (health + ``/props`` read);
* swap   — ``supervisor.start()`` (a hot swap) from a ready tiny model until ``ready`` on the big one (includes stopping
  the tiny server: stop then start is the memory-safe swap);
* stop   — ``supervisor.stop()`` of the ready big model until ``stopped``.
* dropped — through the stable endpoint (proxy), a client sends completions back to back while the server
  swaps tiny ↔ big ``reps`` times: how many of its requests failed (must be 0).

Prints medians and the ratio to the floor. Same argv, settings and machine for every row.

Loading itself (mostly llama-server's warm-up pass over the weights) swings by seconds when other work
shares the CPU, which drowns a few milliseconds of overhead in the totals. So each row also gives the time
from llama-server's own "model loaded" log line to the moment readiness is known: that is exactly what the
supervisor adds on top of loading (polling interval, ``/props`` read, signal delivery), against the same
figure for the tight raw loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.tiny_models

from tests.support.tiny_models import FileType, write_tiny_llama_gguf  # noqa: E402

from llama_wrangler.runtime.locate import runtime_from_dir  # noqa: E402
from llama_wrangler.server.argv import build_server_argv  # noqa: E402
from llama_wrangler.server.endpoint.link import EndpointLink  # noqa: E402
from llama_wrangler.server.endpoint.opening import backend_settings, open_endpoint  # noqa: E402
from llama_wrangler.server.fleet import ServerFleet  # noqa: E402
from llama_wrangler.server.ports import pick_free_port  # noqa: E402
from llama_wrangler.server.state import ServerState  # noqa: E402
from llama_wrangler.server.supervisor import ServerSupervisor  # noqa: E402
from llama_wrangler.settings import ServerSettings  # noqa: E402

LOADED_MARK = "model loaded"  # llama-server's log line the instant loading is done


def raw_floor(server: Path, settings: ServerSettings, model: Path) -> tuple[float, float]:
    """(spawn → /health 200, "model loaded" line → /health 200) with the tightest loop we can write."""
    port = pick_free_port("127.0.0.1")
    argv = build_server_argv(server, settings, model, "big", port)
    url = f"http://127.0.0.1:{port}/health"
    loaded: list[float] = []

    def read(stream: IO[bytes]) -> None:
        for line in stream:
            if not loaded and LOADED_MARK.encode() in line:
                loaded.append(time.perf_counter())

    with httpx.Client(timeout=5) as client:
        began = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        reader = threading.Thread(target=read, args=(process.stdout,), daemon=True)
        reader.start()
        try:
            while True:
                try:
                    if client.get(url).status_code == 200:
                        ready = time.perf_counter()
                        reader.join(0.5)
                        return ready - began, ready - (loaded[0] if loaded else ready)
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError("llama-server exited during the floor measurement")
        finally:
            process.terminate()
            process.wait(30)
            reader.join(5)
            process.stdout.close()


def wait_for(supervisor: ServerSupervisor, state: ServerState,
             action: Callable[[], None]) -> tuple[float, float]:
    """Run ``action``; (call → ``state``, "model loaded" line → ``state``), timed inside the signals."""
    loop = QEventLoop()
    done: list[float] = []
    loaded: list[float] = []

    def on_state(old: str, new: str) -> None:
        if new == state and not done:
            done.append(time.perf_counter())
            loop.quit()
        elif new == ServerState.CRASHED:
            raise SystemExit(f"server crashed: {supervisor.last_error}")

    def on_line(line: str) -> None:
        if not loaded and LOADED_MARK in line:
            loaded.append(time.perf_counter())

    supervisor.state_changed.connect(on_state)
    supervisor.log_line.connect(on_line)
    began = time.perf_counter()
    action()
    if not done:
        QTimer.singleShot(600_000, loop.quit)
        loop.exec()
    supervisor.state_changed.disconnect(on_state)
    supervisor.log_line.disconnect(on_line)
    if not done:
        raise SystemExit(f"timed out waiting for {state}")
    return done[0] - began, done[0] - (loaded[0] if loaded else done[0])


def dropped_during_swaps(server: Path, settings: ServerSettings, tiny: Path, big: Path,
                         reps: int) -> tuple[int, int]:
    """(failed, sent) requests of a client hammering the stable endpoint while the model swaps."""
    user = settings.model_copy(update={"port": pick_free_port("127.0.0.1")})
    supervisor = ServerSupervisor(server, backend_settings(user))
    endpoint = open_endpoint(user)
    link = EndpointLink(ServerFleet(supervisor), endpoint)  # the supervisor is the fleet's primary slot
    endpoint.start()
    outcomes: list[bool] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(timeout=600) as client:
            while not stop.is_set():
                try:
                    reply = client.post(f"{endpoint.url}/v1/completions", json={"prompt": "hi", "max_tokens": 2})
                    outcomes.append(reply.status_code == 200)
                except httpx.HTTPError:
                    outcomes.append(False)

    wait_for(supervisor, ServerState.READY, lambda: supervisor.start(tiny, "tiny"))
    client = threading.Thread(target=hammer, daemon=True)
    client.start()

    def some_served() -> None:  # between swaps, so every swap meets a client mid-stream
        target = len(outcomes) + 3
        while len(outcomes) < target and client.is_alive():
            time.sleep(0.005)

    for _rep in range(reps):
        some_served()
        wait_for(supervisor, ServerState.READY, lambda: supervisor.start(big, "big"))
        some_served()
        wait_for(supervisor, ServerState.READY, lambda: supervisor.start(tiny, "tiny"))
    some_served()
    stop.set()
    client.join(600)
    supervisor.shutdown()
    link.close()
    return outcomes.count(False), len(outcomes)


def ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", type=Path, required=True, help="llama.cpp runtime dir (bin/llama-server)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--embd", type=int, default=2048)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()

    server = runtime_from_dir(args.runtime).server
    app = QCoreApplication.instance() or QCoreApplication([])
    settings = ServerSettings(port=pick_free_port("127.0.0.1"), context_size=args.ctx, stop_grace_s=5.0)
    with tempfile.TemporaryDirectory(prefix="swap-bench-") as tmp:
        began = time.perf_counter()
        big = write_tiny_llama_gguf(Path(tmp) / "big.gguf", n_embd=args.embd, n_layer=args.layers,
                                    n_head=16, n_vocab=4096, name="big", file_type=FileType.F16)
        tiny = write_tiny_llama_gguf(Path(tmp) / "tiny.gguf", name="tiny")
        size_mb = big.stat().st_size / 1e6
        print(f"model: {size_mb:.0f} MB (n_embd {args.embd}, {args.layers} layers, F16), "
              f"written in {time.perf_counter() - began:.1f} s; server {server}; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)

        supervisor = ServerSupervisor(server, settings)
        total: dict[str, list[float]] = {"floor": [], "start": [], "swap": [], "stop": []}
        detect: dict[str, list[float]] = {"floor": [], "start": [], "swap": []}
        raw_floor(server, settings, big)  # warm the page cache; not counted
        for rep in range(args.reps):
            for name, (whole, after_load) in (
                ("floor", raw_floor(server, settings, big)),
                ("start", wait_for(supervisor, ServerState.READY, lambda: supervisor.start(big, "big"))),
            ):
                total[name].append(whole)
                detect[name].append(after_load)
            total["stop"].append(wait_for(supervisor, ServerState.STOPPED, supervisor.stop)[0])
            wait_for(supervisor, ServerState.READY, lambda: supervisor.start(tiny, "tiny"))
            whole, after_load = wait_for(supervisor, ServerState.READY, lambda: supervisor.start(big, "big"))
            total["swap"].append(whole)
            detect["swap"].append(after_load)
            wait_for(supervisor, ServerState.STOPPED, supervisor.stop)
            print(f"rep {rep + 1}: " + "  ".join(f"{k} {ms(v[-1])} ms" for k, v in total.items())
                  + "  | after load: " + "  ".join(f"{k} {ms(v[-1])} ms" for k, v in detect.items()),
                  flush=True)
        supervisor.shutdown()
        failed, sent = dropped_during_swaps(server, settings, tiny, big, args.reps)
        del app

    floor = statistics.median(total["floor"])
    floor_detect = statistics.median(detect["floor"])
    print()
    print(f"| measure (n={args.reps}) | median ms | min ms | max ms | median / floor | "
          "'model loaded' → ready, median ms | vs floor's, ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, values in total.items():
        median = statistics.median(values)
        ratio = "—" if name == "stop" else f"{median / floor:.3f}"
        if name in detect:
            after = statistics.median(detect[name])
            after_text, delta = ms(after), f"{(after - floor_detect) * 1000:+.0f}"
        else:
            after_text = delta = "—"
        print(f"| {name} | {ms(median)} | {ms(min(values))} | {ms(max(values))} | {ratio} | "
              f"{after_text} | {delta} |")
    print(f"| requests dropped during {2 * args.reps} swaps, through the stable endpoint | {failed} of {sent} | "
          "| | | | |")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
