"""What splitting a model across RPC workers costs, against serving it on this computer alone.

    .venv/bin/python bench/pool.py --runtime DIR [--reps 3] [--tokens 32] [--embd 256 --layers 8]

Generates one model (F16, a few MB), then per repetition and per setup — ``local`` (llama-server alone)
and ``2 workers`` (llama-server --rpc to two ``ggml-rpc-server`` on loopback, all layers offloaded to them)
— measures the load time (spawn until ``/health`` is 200) and the generation speed (tokens/s of one
completion of ``--tokens`` tokens, from llama-server's own ``timings``). Prints one table: medians and the
ratio to local. Everything runs on this machine, so the workers and the server share its cores: the
numbers show the protocol's per-token cost, not what two real machines would gain.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.tiny_models

from tests.support.tiny_models import FileType, write_tiny_llama_gguf  # noqa: E402

from llama_wrangler.runtime.locate import runtime_from_dir  # noqa: E402
from llama_wrangler.server.argv import RpcPlan, build_server_argv  # noqa: E402
from llama_wrangler.server.ports import pick_free_port  # noqa: E402
from llama_wrangler.settings import ServerSettings  # noqa: E402


def wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing listens on {port}")


class CountingRelay:
    """A TCP relay in front of one worker that counts the bytes each way (for the traffic per token)."""

    def __init__(self, target_port: int) -> None:
        self.bytes = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self.port = self._listener.getsockname()[1]
        self._target = target_port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(1 << 20):
                sink.sendall(chunk)
                with self._lock:
                    self.bytes += len(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()


@dataclass
class Run:
    load_s: float
    tokens_per_s: float
    load_bytes: int = 0  # through the workers' relays, until ready (the weights)
    generation_bytes: int = 0  # through the relays for one completion


def run_once(server: Path, rpc_binary: Path, model: Path, workers: int, tokens: int, *,
             count_traffic: bool = False) -> Run:
    """One server start and one completion; with ``count_traffic`` every worker is reached through a
    :class:`CountingRelay` (which adds latency: traffic runs are not timed)."""
    children: list[subprocess.Popen[bytes]] = []
    relays: list[CountingRelay] = []
    try:
        addresses = []
        for _ in range(workers):
            port = pick_free_port("127.0.0.1")
            children.append(subprocess.Popen([str(rpc_binary), "--host", "127.0.0.1", "--port", str(port),
                                              "--threads", "1"], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL))
            wait_listening(port, time.monotonic() + 30)
            if count_traffic:
                relays.append(CountingRelay(port))
                port = relays[-1].port
            addresses.append(f"127.0.0.1:{port}")
        port = pick_free_port("127.0.0.1")
        settings = ServerSettings(context_size=512, threads=1)
        argv = build_server_argv(server, settings, model, "bench", port,
                                 rpc=RpcPlan(tuple(addresses)) if addresses else None)
        started = time.monotonic()
        children.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=120) as client:
            while True:
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() - started > 120:
                    raise SystemExit("llama-server did not become ready")
                time.sleep(0.01)
            loaded = time.monotonic() - started
            at_ready = sum(relay.bytes for relay in relays)
            reply = client.post(f"{url}/v1/completions", json={"prompt": "Once upon a time", "max_tokens": tokens,
                                                               "ignore_eos": True, "temperature": 0})
            reply.raise_for_status()
            per_second = float(reply.json()["timings"]["predicted_per_second"])
        return Run(loaded, per_second, at_ready, sum(relay.bytes for relay in relays) - at_ready)
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            child.wait(timeout=10)
        for relay in relays:
            relay.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", type=Path, required=True)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--embd", type=int, default=256)
    parser.add_argument("--layers", type=int, default=8)
    args = parser.parse_args()
    runtime = runtime_from_dir(args.runtime)
    if runtime.rpc_server is None:
        raise SystemExit("this runtime has no ggml-rpc-server (rebuild it: GGML_RPC=ON)")
    with tempfile.TemporaryDirectory() as scratch:
        model = write_tiny_llama_gguf(Path(scratch) / "bench.gguf", name="bench", seed=3, n_embd=args.embd,
                                      n_layer=args.layers, file_type=FileType.F16)
        size_mb = model.stat().st_size / 1e6
        results: dict[str, tuple[list[float], list[float]]] = {"local": ([], []), "2 workers": ([], [])}
        for rep in range(args.reps):
            for name, workers in (("local", 0), ("2 workers", 2)):
                run = run_once(runtime.server, runtime.rpc_server, model, workers, args.tokens)
                results[name][0].append(run.load_s)
                results[name][1].append(run.tokens_per_s)
                print(f"rep {rep + 1} {name}: load {run.load_s * 1000:.0f} ms, {run.tokens_per_s:.1f} tokens/s",
                      flush=True)
        traffic = run_once(runtime.server, runtime.rpc_server, model, 2, args.tokens, count_traffic=True)
    base_load = statistics.median(results["local"][0])
    base_speed = statistics.median(results["local"][1])
    print()
    print(f"model: {size_mb:.1f} MB F16 (n_embd {args.embd}, {args.layers} layers); {args.tokens} tokens per "
          f"completion; n={args.reps}; server and workers share this machine's cores")
    print("| setup | load ms (median) | load / local | tokens/s (median) | tokens/s / local |")
    print("|---|---:|---:|---:|---:|")
    for name, (loads, speeds) in results.items():
        load, speed = statistics.median(loads), statistics.median(speeds)
        print(f"| {name} | {load * 1000:.0f} | {load / base_load:.2f} | {speed:.1f} | {speed / base_speed:.2f} |")
    print(f"| traffic, 2 workers (one relayed run) | load: {traffic.load_bytes / 1e6:.1f} MB for a "
          f"{size_mb:.1f} MB model | | generation: {traffic.generation_bytes / args.tokens / 1e3:.1f} kB per "
          f"token (prompt included) | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
