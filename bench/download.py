"""Download benchmark: one 1 GiB file from the loopback hub, fetched in the same run by curl (one stream),
``aria2c -x16 -s16``, huggingface_hub's own ``hf_hub_download`` and ours (one stream, and parallel ranged
parts), first unthrottled and then through the hub capping each connection (like a CDN); plus the bytes
fetched again when a ranged download is resumed after an interruption.

    .venv/bin/python bench/download.py [--size-mib 1024] [--trials 3] [--cap-mib 40]
    TMPDIR=/dev/shm .venv/bin/python bench/download.py   # keep a busy disk out of the comparison

Prints one table (medians; ratios against curl measured in the same run) and the machine's load before
and after. Our rows include what curl does not do: sha256 of every byte, checked against the hub's LFS
checksum before the file takes its final name (aria2c is given the checksum too). With the cap, the
one-stream clients run once (their time is the cap's arithmetic), the parallel ones ``--trials`` times.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.fake_hub: the same loopback hub the tests use
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from tests.support.fake_hub import FakeHub  # noqa: E402

from llama_wrangler.errors import CancelledError  # noqa: E402
from llama_wrangler.paths import AppPaths  # noqa: E402
from llama_wrangler.progress import CancelToken, Progress  # noqa: E402
from llama_wrangler.sources.hf_errors import HubWording  # noqa: E402
from llama_wrangler.sources.hf_files import HubFile, resolve_hub_file  # noqa: E402
from llama_wrangler.sources.hf_hub import HubAccess  # noqa: E402
from llama_wrangler.sources.partials import list_partials  # noqa: E402
from llama_wrangler.sources.transfer import ByteMeter, DownloadsFolder, FileDownloader, RangedParts  # noqa: E402

REPO = "bench/big-GGUF"
FILE = "big-Q4_K_M.gguf"
Client = Callable[[Path], float]


def make_file(path: Path, size: int) -> str:
    """``size`` bytes of incompressible data (a random 16 MiB block, varied per block); returns sha256."""
    block = os.urandom(16 << 20)
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        written = 0
        index = 0
        while written < size:
            chunk = (index.to_bytes(8, "little") + block[8:])[: size - written]
            handle.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            index += 1
    return digest.hexdigest()


def _wording(hub_file: HubFile) -> HubWording:
    return HubWording(hub_file.repo_id, file=hub_file.path, revision=hub_file.revision)


def ours(hub: HubProcess, connections: int) -> Client:
    """Our downloader end to end (resolve, transfer, sha256 check, rename), ``connections`` per file."""
    def run(work: Path) -> float:
        paths = AppPaths.under(work / "home").ensure()
        access = HubAccess(hub.endpoint)
        start = time.perf_counter()
        hub_file = resolve_hub_file(access, REPO, FILE, revision="main")
        downloader = FileDownloader(DownloadsFolder(paths),
                                    ranged=RangedParts(connections) if connections > 1 else None)
        downloader.fetch(hub_file.remote, paths.models_dir / FILE, wording=_wording(hub_file))
        elapsed = time.perf_counter() - start
        downloader.close()
        return elapsed
    return run


def command(*argvs: Callable[[Path], list[str]]) -> Client:
    """Commands run one after another (curl, then a hash of what it wrote), timed together."""
    def run(work: Path) -> float:
        start = time.perf_counter()
        for argv in argvs:
            subprocess.run(argv(work), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start
    return run


def hf_hub(hub: HubProcess) -> Client:
    def run(work: Path) -> float:
        from huggingface_hub import hf_hub_download
        start = time.perf_counter()
        hf_hub_download(REPO, FILE, endpoint=hub.endpoint, cache_dir=work / "hf-cache", token=False)
        return time.perf_counter() - start
    return run


def timed(client: Client, base: Path) -> float:
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    try:
        return client(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def resume(hub: HubProcess, base: Path, size: int) -> tuple[int, int]:
    """Stop a ranged download part-way (like quitting the app), resume it with a fresh downloader; return
    (bytes on disk when stopped, bytes fetched again that were already on disk)."""
    paths = AppPaths.under(base / "home-resume").ensure()
    access = HubAccess(hub.endpoint)
    hub_file = resolve_hub_file(access, REPO, FILE, revision="main")
    target = paths.models_dir / FILE
    cancel = CancelToken()

    def stop_half_way(report: Progress) -> None:
        if report.done >= size // 2:
            cancel.cancel()

    first = FileDownloader(DownloadsFolder(paths), ranged=RangedParts())
    try:
        first.fetch(hub_file.remote, target, wording=_wording(hub_file), cancel=cancel,
                    meter=ByteMeter(stop_half_way, size, 0, FILE), describe=hub_file.describe())
        raise SystemExit("the download was not interrupted")
    except CancelledError:
        pass
    finally:
        first.close()
    [partial] = list_partials(paths)
    second = FileDownloader(DownloadsFolder(paths), ranged=RangedParts())
    second.fetch(resolve_hub_file(access, REPO, FILE, revision="main").remote, target, wording=_wording(hub_file))
    second.close()
    refetched = second.bytes_fetched - (size - partial.bytes_on_disk)
    shutil.rmtree(base / "home-resume", ignore_errors=True)
    return partial.bytes_on_disk, refetched


def serve(source: Path, sha: str, cap: int) -> None:
    """The hub in its own process (``--serve``), so its threads never share our interpreter's lock: every
    client meets the same server. Prints its endpoint, serves until stdin closes."""
    with FakeHub() as hub:
        hub.add_repo(REPO, {FILE: source}, sha256={FILE: sha})
        hub.state.connection_cap = cap
        print(hub.endpoint, flush=True)
        sys.stdin.read()


class HubProcess:
    def __init__(self, source: Path, sha: str, cap: int) -> None:
        # Its stderr is dropped: clients hanging up on keep-alive connections make socketserver print.
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(source), sha, str(cap)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert self.proc.stdout is not None
        self.endpoint = self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def machine_load() -> str:
    """The load average and the busiest other processes (the machine is shared)."""
    top = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True,
                         text=True, check=False).stdout.splitlines()[:5]
    load = os.getloadavg()
    return (f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; busiest: "
            + ", ".join(" ".join(line.split()[::-1]) + "%" for line in top))


def compare(hub: HubProcess, url: str, sha: str, base: Path, trials: int, *, capped: bool) -> dict[str, list[float]]:
    """Every client's times, interleaved trial by trial so all see the same machine load. Under a cap the
    one-stream clients run once: their time is the cap's arithmetic."""
    clients: list[tuple[str, Client, bool]] = [
        ("curl (one stream)", command(lambda w: ["curl", "-sSfL", "-o", str(w / "out"), url]), False),
        ("curl, then openssl dgst -sha256", command(lambda w: ["curl", "-sSfL", "-o", str(w / "out"), url],
                                                    lambda w: ["openssl", "dgst", "-sha256", str(w / "out")]),
         False),
        ("aria2c -x16 -s16 (+sha256 check)", command(lambda w: [
            "aria2c", "-q", "-x16", "-s16", "--file-allocation=none", f"--checksum=sha-256={sha}",
            "-d", str(w), "-o", "out", url]), True),
        ("hf_hub_download", hf_hub(hub), False),
        ("llama-wrangler, 1 connection (+sha256)", ours(hub, 1), False),
        ("llama-wrangler, 8 connections (+sha256)", ours(hub, 8), True),
        ("llama-wrangler, 16 connections (+sha256)", ours(hub, 16), True),
    ]
    times: dict[str, list[float]] = {label: [] for label, _c, _p in clients}
    for trial in range(trials):
        for label, client, parallel in clients:
            if capped and (label.startswith("curl,") or (not parallel and trial > 0)):
                continue
            times[label].append(timed(client, base))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--cap-mib", type=int, default=40, help="per-connection cap of the throttled runs")
    parser.add_argument("--serve", nargs=3, metavar=("SOURCE", "SHA256", "CAP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), args.serve[1], int(args.serve[2]))
        return 0
    size = args.size_mib << 20
    missing = [tool for tool in ("curl", "aria2c", "openssl") if shutil.which(tool) is None]
    if missing:
        print(f"Missing {', '.join(missing)} (apt-get install curl aria2 openssl); skipping the comparison.")
        return 0
    print(f"before: {machine_load()}")
    rows: list[tuple[str, str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        base = Path(tmp)
        source = base / "source.bin"
        sha = make_file(source, size)
        for cap in (0, args.cap_mib << 20):
            hub = HubProcess(source, sha, cap)
            try:
                url = resolve_hub_file(HubAccess(hub.endpoint), REPO, FILE, revision="main").remote.url
                setting = "unthrottled" if not cap else f"{cap >> 20} MiB/s per connection"
                rows.extend((setting, label, found) for label, found in compare(hub, url, sha, base, args.trials,
                                                                                  capped=bool(cap)).items())
                if not cap:
                    on_disk, refetched = resume(hub, base, size)
            finally:
                hub.close()
    mib = size / (1 << 20)
    print(f"1 file of {mib:.0f} MiB over loopback, {args.trials} interleaved trials (files in "
          f"{tempfile.gettempdir()}); medians, ratio against curl in the same setting")
    print()
    print("| setting                    | client                                   | MiB/s | x curl | x curl+sha256 "
          "| times (s)")
    print("|----------------------------|------------------------------------------|-------|--------|---------------"
          "|----------")
    base: dict[tuple[str, str], float] = {}
    for setting, label, found in rows:
        if found and label.startswith("curl"):
            base[(setting, label)] = mib / statistics.median(found)
    for setting, label, found in rows:
        if not found:
            continue
        speed = mib / statistics.median(found)
        ratio = speed / base[(setting, "curl (one stream)")]
        hashed = base.get((setting, "curl, then openssl dgst -sha256"))
        versus_hashed = f"{speed / hashed:13.2f}" if hashed else " " * 13
        print(f"| {setting:<26} | {label:<40} | {speed:5.0f} | {ratio:6.2f} | {versus_hashed} | "
              f"{', '.join(f'{t:.2f}' for t in found)}")
    print()
    print("| resume of a ranged download  | bytes         |")
    print("|------------------------------|---------------|")
    print(f"| on disk when stopped         | {on_disk:>13,} |")
    print(f"| re-fetched (already on disk) | {refetched:>13,} |")
    print(f"| re-fetched / on disk         | {100 * refetched / max(1, on_disk):12.3f}% |")
    print()
    print(f"after: {machine_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
