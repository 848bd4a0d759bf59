"""How much does the supervisor add to llama-server's own start time, and how fast does it stop?

    .venv/bin/python bench/swap.py --runtime /tmp/dev-runtime [--reps 5] [--embd 2048 --layers 4]

Generates a model of a few hundred MB in a temp dir, then per repetition measures:

* floor  — spawn llama-server directly, poll ``/health`` in a tight loop until 200 (the best possible);
* start  — ``supervisor.start()`` from stopped until the ``ready`` state (health + ``/props`` read);
* swap   — ``supervisor.swap()`` from a ready tiny model until ``ready`` on the big one (includes stopping
  the tiny server: stop then start is the memory-safe swap);
* stop   — ``supervisor.stop()`` of the ready big model until ``stopped``.

Prints medians and the ratio to the floor. Same argv, settings and machine for every row.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.tiny_models

from tests.support.tiny_models import FileType, write_tiny_llama_gguf  # noqa: E402

from llama_wrangler.runtime.locate import runtime_from_dir  # noqa: E402
from llama_wrangler.server.argv import build_server_argv  # noqa: E402
from llama_wrangler.server.ports import pick_free_port  # noqa: E402
from llama_wrangler.server.supervisor import ServerState, ServerSupervisor  # noqa: E402
from llama_wrangler.settings import ServerSettings  # noqa: E402


def raw_floor(server: Path, settings: ServerSettings, model: Path) -> float:
    port = pick_free_port("127.0.0.1")
    argv = build_server_argv(server, settings, model, "big", port)
    url = f"http://127.0.0.1:{port}/health"
    with httpx.Client(timeout=5) as client:
        began = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if client.get(url).status_code == 200:
                        return time.perf_counter() - began
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError("llama-server exited during the floor measurement")
        finally:
            process.terminate()
            process.wait(30)


def wait_for(supervisor: ServerSupervisor, state: ServerState, action: Callable[[], None]) -> float:
    """Run ``action`` and time it until ``supervisor`` reaches ``state`` (measured in the signal)."""
    loop = QEventLoop()
    done: list[float] = []

    def on_state(old: str, new: str) -> None:
        if new == state and not done:
            done.append(time.perf_counter())
            loop.quit()
        elif new == ServerState.CRASHED:
            raise SystemExit(f"server crashed: {supervisor.last_error}")

    supervisor.state_changed.connect(on_state)
    began = time.perf_counter()
    action()
    if not done:
        QTimer.singleShot(600_000, loop.quit)
        loop.exec()
    supervisor.state_changed.disconnect(on_state)
    if not done:
        raise SystemExit(f"timed out waiting for {state}")
    return done[0] - began


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
              f"written in {time.perf_counter() - began:.1f} s; server {server}", flush=True)

        supervisor = ServerSupervisor(server, settings)
        rows: dict[str, list[float]] = {"floor": [], "start": [], "swap": [], "stop": []}
        raw_floor(server, settings, big)  # warm the page cache; not counted
        for rep in range(args.reps):
            rows["floor"].append(raw_floor(server, settings, big))
            rows["start"].append(wait_for(supervisor, ServerState.READY,
                                          lambda: supervisor.start(big, "big")))
            rows["stop"].append(wait_for(supervisor, ServerState.STOPPED, supervisor.stop))
            wait_for(supervisor, ServerState.READY, lambda: supervisor.start(tiny, "tiny"))
            rows["swap"].append(wait_for(supervisor, ServerState.READY, lambda: supervisor.swap(big, "big")))
            wait_for(supervisor, ServerState.STOPPED, supervisor.stop)
            print(f"rep {rep + 1}: " + "  ".join(f"{k} {v[-1] * 1000:.0f} ms" for k, v in rows.items()),
                  flush=True)
        supervisor.shutdown()
        del app

    floor = statistics.median(rows["floor"])
    print()
    print(f"| measure (n={args.reps}) | median ms | min ms | max ms | median / floor | paired median Δ ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in rows.items():
        median = statistics.median(values)
        if name == "stop":
            ratio = delta = "—"
        else:
            # Each repetition measures floor and supervisor back to back: the per-pair difference cancels
            # slow drifts in machine load that the plain medians still carry.
            ratio = f"{median / floor:.3f}"
            delta = f"{statistics.median(v - f for v, f in zip(values, rows['floor'], strict=True)) * 1000:+.0f}"
        print(f"| {name} | {median * 1000:.0f} | {min(values) * 1000:.0f} | {max(values) * 1000:.0f} | "
              f"{ratio} | {delta} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
