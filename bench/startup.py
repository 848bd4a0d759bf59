#!/usr/bin/env python3
"""Startup benchmark: process start → main window shown, and idle memory, measured offscreen.

    .venv/bin/python bench/startup.py [--runs 5] [--models 0]

Each run starts the real app (``python -m llama_wrangler``) in a fresh process with
``LLAMA_WRANGLER_STARTUP_PROBE=1``: the app prints ``shown <unix time>`` when its main window is first
exposed, waits 1.5 s idle, prints ``rss <bytes>`` and quits. The clock starts just before the process is
spawned, so interpreter start and every import count. ``--models N`` fills the library with N tiny GGUF
files first (linked in place), to see what a big library costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.5
TARGET_MB = 250


def prepare_home(home: Path, models: int) -> None:
    if not models:
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.gguf_files import write_gguf

    from llama_wrangler.library.registry import Library
    from llama_wrangler.paths import AppPaths
    from llama_wrangler.settings import ImportMode

    folder = home / "incoming"
    files = [write_gguf(folder / f"model-{i:04d}-Q4_K_M.gguf", name=f"Model {i}") for i in range(models)]
    library = Library(AppPaths.under(home).ensure(), hash_in_background=False).load()
    library.import_files(files, ImportMode.LINK)


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:  # Windows: no rusage; the column reads nan
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def web_run(home: Path) -> tuple[int, int]:
    """(app RSS, web engine processes' RSS) once the Hugging Face tab has loaded a page shaped like a model
    page from a loopback hub (settings point the tab there)."""
    sys.path.insert(0, str(ROOT))
    from tests.support.fake_hub import FakeHub
    from tests.support.fake_sites import hf_model_page

    from llama_wrangler.paths import AppPaths
    from llama_wrangler.settings import Settings, save_settings

    with FakeHub() as hub:
        hub.add_page("/models", hf_model_page("org/tiny-GGUF", ["tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf"]))
        paths = AppPaths.under(home).ensure()
        settings = Settings()
        settings.downloads.hf_endpoint = hub.endpoint
        save_settings(paths.settings_file, settings)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LLAMA_WRANGLER_HOME=str(home),
                   LLAMA_WRANGLER_STARTUP_PROBE="web")
        env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")  # Chromium's sandbox refuses root
        proc = subprocess.run([sys.executable, "-m", "llama_wrangler"], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=False)
        save_settings(paths.settings_file, Settings())
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "web_rss":
            own, children = value.split()
            return int(own), int(children)
    raise SystemExit(f"the app did not report its web RSS (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def one_run(home: Path) -> tuple[float, int, float]:
    """(seconds to shown, idle RSS bytes, CPU seconds of the whole run). CPU time is less sensitive to
    other load on a shared machine than wall time (it includes the 1.5 s idle wait, which costs ~0)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LLAMA_WRANGLER_HOME=str(home),
               LLAMA_WRANGLER_STARTUP_PROBE="1")
    before = _children_cpu()
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "llama_wrangler"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    shown = rss = None
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "shown":
            shown = float(value)
        elif key == "rss":
            rss = int(value)
    if proc.returncode != 0 or shown is None or rss is None:
        raise SystemExit(f"the app did not report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return shown - start, rss, _children_cpu() - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", type=int, default=0, help="tiny models in the library (default 0)")
    parser.add_argument("--web-runs", type=int, default=1, help="runs that also load the Hugging Face tab")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        home = Path(tmp)
        prepare_home(home, args.models)
        results = [one_run(home) for _ in range(args.runs)]
        web = [web_run(home) for _ in range(args.web_runs)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Startup to main window shown (offscreen), {args.models} models in the library, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"{'run':>4} | {'shown (s)':>9} | {'CPU (s)':>7} | {'idle RSS (MB)':>13}")
    print(f"{'-' * 4}-+-{'-' * 9}-+-{'-' * 7}-+-{'-' * 13}")
    for index, (seconds, rss, cpu) in enumerate(results, 1):
        print(f"{index:>4} | {seconds:>9.3f} | {cpu:>7.2f} | {rss / 1e6:>13.1f}")
    times = [r[0] for r in results]
    memory = [r[1] / 1e6 for r in results]
    cpus = [r[2] for r in results]
    print(f"{'med':>4} | {statistics.median(times):>9.3f} | {statistics.median(cpus):>7.2f} | "
          f"{statistics.median(memory):>13.1f}")
    print(f"{'max':>4} | {max(times):>9.3f} | {max(cpus):>7.2f} | {max(memory):>13.1f}")
    if web:
        own = statistics.median(w[0] for w in web) / 1e6
        engine = statistics.median(w[1] for w in web) / 1e6
        idle = statistics.median(memory)
        print(f"after the Hugging Face tab loaded a page ({len(web)} runs, median): app RSS {own:.1f} MB "
              f"({own / idle:.2f}x idle), web engine processes {engine:.1f} MB, total {own + engine:.1f} MB")
    ok = statistics.median(times) < TARGET_S and max(memory) < TARGET_MB
    print(f"target: median < {TARGET_S} s and < {TARGET_MB} MB -> {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
