"""Download benchmark: one 1 GiB file from the loopback hub, fetched by our downloader and by curl in the
same run, plus the bytes re-fetched when an interrupted download is resumed.

    .venv/bin/python bench/download.py [--size-mib 1024] [--trials 5]
    TMPDIR=/dev/shm .venv/bin/python bench/download.py   # keep a busy disk out of the comparison

Prints a table with both throughputs and their ratio (aim >= 0.9), and the resume overhead (aim < 1 % of
what was already on disk). Our downloader's time includes what curl does not do: sha256 of every byte and
the check against the hub's LFS checksum before the file takes its final name.
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
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.fake_hub: the same loopback hub the tests use
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from tests.support.fake_hub import FakeHub  # noqa: E402

from llama_wrangler.errors import CancelledError  # noqa: E402
from llama_wrangler.paths import AppPaths  # noqa: E402
from llama_wrangler.progress import CancelToken, Progress  # noqa: E402
from llama_wrangler.sources.hf_errors import HubWording  # noqa: E402
from llama_wrangler.sources.hf_files import HubFile, resolve_hub_file  # noqa: E402
from llama_wrangler.sources.hf_hub import HubAccess  # noqa: E402
from llama_wrangler.sources.partials import list_partials  # noqa: E402
from llama_wrangler.sources.transfer import ByteMeter, DownloadsFolder, FileDownloader  # noqa: E402
from llama_wrangler.sources.transfer import verify as transfer_verify  # noqa: E402

REPO = "bench/big-GGUF"
FILE = "big-Q4_K_M.gguf"


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


def _downloader(paths: AppPaths, access: HubAccess) -> FileDownloader:
    return FileDownloader(DownloadsFolder(paths), token=access.token)


def _wording(hub_file: HubFile) -> HubWording:
    return HubWording(hub_file.repo_id, file=hub_file.path, revision=hub_file.revision)


def ours(hub: FakeHub, home: Path, *, hashing: bool = True) -> float:
    """Our downloader end to end. ``hashing=False`` (a benchmark-only switch, patched in here) drops the
    sha256 work to show what the transfer path alone costs."""
    paths = AppPaths.under(home).ensure()
    access = HubAccess(hub.endpoint)
    hub_file = resolve_hub_file(access, REPO, FILE, revision="main")
    target = paths.models_dir / FILE
    downloader = _downloader(paths, access)
    remote = hub_file.remote
    if not hashing:
        remote = replace(remote, sha256=None, git_blob=None)
        original = transfer_verify.BackgroundHash.update
        transfer_verify.BackgroundHash.update = lambda self, chunk: None  # type: ignore[method-assign]
    start = time.perf_counter()
    try:
        downloader.fetch(remote, target, wording=_wording(hub_file))
    finally:
        if not hashing:
            transfer_verify.BackgroundHash.update = original  # type: ignore[method-assign]
    elapsed = time.perf_counter() - start
    downloader.close()
    target.unlink()
    return elapsed


def hash_command() -> list[str] | None:
    """A fast sha256 tool for the "curl, then hash" row (OpenSSL uses the CPU's SHA instructions)."""
    if shutil.which("openssl"):
        return ["openssl", "dgst", "-sha256"]
    if shutil.which("sha256sum"):
        return ["sha256sum"]
    return None


def curl(url: str, out: Path, *, verify: list[str] | None = None) -> float:
    """curl to a file; with ``verify`` also hash it afterwards (the work our downloader does)."""
    start = time.perf_counter()
    subprocess.run(["curl", "-sS", "-f", "-o", str(out), url], check=True)
    if verify:
        subprocess.run([*verify, str(out)], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    out.unlink()
    return elapsed


def resume(hub: FakeHub, home: Path, size: int) -> tuple[int, int]:
    """Stop a download part-way (like quitting the app), resume it with a fresh downloader; return
    (bytes on disk when stopped, bytes fetched again that were already on disk)."""
    paths = AppPaths.under(home).ensure()
    access = HubAccess(hub.endpoint)
    hub_file = resolve_hub_file(access, REPO, FILE, revision="main")
    target = paths.models_dir / FILE
    cancel = CancelToken()

    def stop_half_way(report: Progress) -> None:
        if report.done >= size // 2:
            cancel.cancel()

    first = _downloader(paths, access)
    try:
        first.fetch(hub_file.remote, target, wording=_wording(hub_file), cancel=cancel,
                    meter=ByteMeter(stop_half_way, size, 0, FILE), describe=hub_file.describe())
        raise SystemExit("the download was not interrupted")
    except CancelledError:
        pass
    finally:
        first.close()
    [partial] = list_partials(paths)
    second = _downloader(paths, access)
    again = resolve_hub_file(access, REPO, FILE, revision="main")
    second.fetch(again.remote, target, wording=_wording(again))
    second.close()
    refetched = second.bytes_fetched - (size - partial.bytes_on_disk)
    target.unlink()
    return partial.bytes_on_disk, refetched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    size = args.size_mib << 20
    if shutil.which("curl") is None:
        print("curl is not installed (apt-get install curl); skipping the comparison.")
        return 0
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        sha = make_file(source, size)
        with FakeHub() as hub:
            hub.add_repo(REPO, {FILE: source}, sha256={FILE: sha})
            url = resolve_hub_file(HubAccess(hub.endpoint), REPO, FILE, revision="main").remote.url
            ours_times, curl_times, verified_times, transport_times = [], [], [], []
            verify = hash_command()
            for trial in range(args.trials):  # interleaved, so all see the same machine load
                curl_times.append(curl(url, work / "curl.out"))
                ours_times.append(ours(hub, work / f"home-{trial}"))
                transport_times.append(ours(hub, work / f"home-t{trial}", hashing=False))
                if verify:
                    verified_times.append(curl(url, work / "curl.out", verify=verify))
            on_disk, refetched = resume(hub, work / "home-resume", size)
    mib = size / (1 << 20)
    rows = []
    hasher = " ".join(verify or ["sha256"])
    for label, times in (("curl -o", curl_times), ("llama-wrangler (ranged GET + sha256 chk)", ours_times),
                         (f"curl -o, then {hasher}", verified_times),
                         ("llama-wrangler, hashing off (bench only)", transport_times)):
        if times:
            rows.append((label, mib / min(times), mib / statistics.median(times), times))
    print(f"1 file of {mib:.0f} MiB over loopback, {args.trials} interleaved trials each "
          f"(files in {tempfile.gettempdir()})")
    print()
    print("| client                                   | best MiB/s | median MiB/s | times (s)              |")
    print("|------------------------------------------|------------|--------------|------------------------|")
    for label, best, median, times in rows:
        print(f"| {label:<40} | {best:10.0f} | {median:12.0f} | "
              f"{', '.join(f'{t:.2f}' for t in times):<22} |")
    print(f"| ratio ours / curl                        | {rows[1][1] / rows[0][1]:10.2f} | "
          f"{rows[1][2] / rows[0][2]:12.2f} |                        |")
    if verified_times:
        print(f"| ratio ours / (curl, then hash)           | {rows[1][1] / rows[2][1]:10.2f} | "
              f"{rows[1][2] / rows[2][2]:12.2f} |                        |")
    print()
    print("| resume after an interruption | bytes         |")
    print("|------------------------------|---------------|")
    print(f"| on disk when stopped         | {on_disk:>13,} |")
    print(f"| re-fetched (already on disk) | {refetched:>13,} |")
    print(f"| re-fetched / on disk         | {100 * refetched / max(1, on_disk):12.3f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
