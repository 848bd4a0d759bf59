"""Install a prebuilt llama.cpp release (for users without a compiler: Windows, macOS).

Asks the GitHub releases API for the pinned tag, picks the asset for this OS / CPU / backend, downloads
it with progress, unpacks it safely, checks ``llama-server --version`` reports the pinned commit, and
renames the result into the runtime root (same staging rules as a source build).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_wrangler.atomic import write_json_atomic
from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.runtime import fetch
from llama_wrangler.runtime.archive import unpack
from llama_wrangler.runtime.backends import Platform, choose_backend
from llama_wrangler.runtime.install import InstallStep, carry_toolchain, manifest_for, runtime_dir_name, swap_into_place
from llama_wrangler.runtime.locate import MANIFEST_NAME, exe_name, runtime_from_dir
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.verify import probe_binary
from llama_wrangler.settings import Backend, Settings

_ARCHIVE = r"\.(zip|tar\.gz)"


@dataclass(frozen=True)
class Asset:
    name: str
    url: str
    size: int | None
    sha256: str | None  # GitHub publishes "digest": "sha256:<hex>" for assets


def parse_assets(release: object) -> list[Asset]:
    if not isinstance(release, dict) or not isinstance(release.get("assets"), list):
        raise LlamaRuntimeError("The releases API answered something that is not a release.")
    assets = []
    for item in release["assets"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        url = item.get("browser_download_url")
        if not isinstance(url, str):
            continue
        digest = item.get("digest")
        sha = digest.removeprefix("sha256:") if isinstance(digest, str) and digest.startswith("sha256:") else None
        size = item.get("size")
        assets.append(Asset(item["name"], url, size if isinstance(size, int) else None, sha))
    return assets


def _arch_token(plat: Platform) -> str:
    return "arm64" if plat.machine == "arm64" else "x64"


def asset_patterns(tag: str, plat: Platform, backend: Backend) -> list[re.Pattern[str]]:
    """Name patterns of the asset for this machine, best first (empty: no prebuilt exists for it)."""
    arch = _arch_token(plat)
    prefix = rf"^llama-{re.escape(tag)}-bin-"
    if plat.system == "darwin":
        return [re.compile(rf"{prefix}macos-{arch}{_ARCHIVE}$")]
    if plat.system == "windows":
        by_backend = {
            Backend.CPU: [rf"win-cpu-{arch}", rf"win-{arch}"],
            Backend.CUDA: [rf"win-cuda-(?P<cuda>[\d.]+)-{arch}"],
            Backend.VULKAN: [rf"win-vulkan-{arch}"],
            Backend.ROCM: [rf"win-hip-radeon-{arch}", rf"win-hip-{arch}"],
        }
    else:
        by_backend = {
            Backend.CPU: [rf"ubuntu-{arch}"],
            Backend.VULKAN: [rf"ubuntu-vulkan-{arch}"],
            Backend.ROCM: [rf"ubuntu-rocm-[\d.]+-{arch}", rf"ubuntu-hip-{arch}"],
            Backend.CUDA: [rf"ubuntu-cuda-[\d.]+-{arch}"],
        }
    return [re.compile(f"{prefix}{body}{_ARCHIVE}$") for body in by_backend.get(backend, [])]


def _cuda_version(name: str) -> tuple[int, ...]:
    match = re.search(r"cuda-([\d.]+)-", name)
    return tuple(int(p) for p in match.group(1).split(".") if p) if match else ()


def choose_asset(assets: list[Asset], tag: str, plat: Platform, backend: Backend) -> Asset | None:
    """The asset for this machine and backend; the newest CUDA when several are published."""
    for pattern in asset_patterns(tag, plat, backend):
        matches = [a for a in assets if pattern.match(a.name)]
        if matches:
            return max(matches, key=lambda a: (_cuda_version(a.name), a.name.endswith(".zip")))
    return None


def _find_server(folder: Path) -> Path:
    name = exe_name("llama-server")
    found = sorted(folder.rglob(name), key=lambda p: len(p.parts))
    if not found:
        raise LlamaRuntimeError(f"The release archive has no {name}.")
    return found[0]


def install_release(settings: Settings, paths: AppPaths, *, backend: Backend = Backend.AUTO,
                    api_url: str | None = None, plat: Platform | None = None,
                    progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
                    timeout: float | None = None) -> InstallStep:
    """Download and install the pinned tag's prebuilt binaries into ``paths.runtime_root``."""
    plat = plat or Platform.current()
    requested = backend if backend is not Backend.AUTO else settings.runtime.backend
    detection = choose_backend(requested, plat)
    url = api_url or settings.runtime.releases_api_url or PINNED.releases_api_url
    progress(Progress("release", message=f"Asking {url} for the {PINNED.tag} release"))
    assets = parse_assets(fetch.get_json(url, timeout=timeout))
    chosen_backend = detection.backend
    asset = choose_asset(assets, PINNED.tag, plat, chosen_backend)
    notes = [f"backend {chosen_backend.value}: {detection.reason}"]
    if asset is None and requested is Backend.AUTO and chosen_backend is not Backend.CPU:
        notes.append(f"no prebuilt {chosen_backend.value} release for {plat.system}; using the CPU one")
        chosen_backend = Backend.CPU
        asset = choose_asset(assets, PINNED.tag, plat, chosen_backend)
    if asset is None:
        raise LlamaRuntimeError(
            f"llama.cpp {PINNED.tag} has no prebuilt {chosen_backend.value} release for "
            f"{plat.system} {plat.machine}.", hint="Build it from source instead: `llama-wrangler runtime install`.")
    return _install_asset(asset, chosen_backend, paths, notes=notes, progress=progress, cancel=cancel,
                          timeout=timeout)


def _install_asset(asset: Asset, backend: Backend, paths: AppPaths, *, notes: list[str],
                   progress: ProgressCallback, cancel: CancelToken | None, timeout: float | None) -> InstallStep:
    work = paths.cache_dir / "runtime-release" / f"{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    target = paths.runtime_root / runtime_dir_name(backend)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        archive = fetch.download(asset.url, work / asset.name, sha256=asset.sha256, stage="download release",
                                 progress=progress, cancel=cancel, timeout=timeout)
        progress(Progress("unpack", message=f"Unpacking {asset.name}"))
        unpacked = unpack(archive, work / "unpacked", cancel=cancel)
        server = _find_server(unpacked)
        # The whole folder: Windows and macOS releases keep their DLLs / dylibs beside the executables.
        shutil.copytree(server.parent, staging / "bin")
        info = probe_binary(staging / "bin" / server.name)
        if info.commit and not PINNED.commit.startswith(info.commit):
            raise LlamaRuntimeError(f"{asset.name} is llama.cpp commit {info.commit}, not the pinned "
                                    f"{PINNED.short_commit}; it was not installed.")
        manifest: dict[str, Any] = manifest_for(backend=backend.value, source=f"release {asset.url}", flags=[],
                                                tool_versions={}, pinned=True, build_seconds=None,
                                                extra={"reported_version": info.version, "asset": asset.name})
        write_json_atomic(staging / MANIFEST_NAME, manifest)
        carry_toolchain(target, staging)
        swap_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return InstallStep(runtime_from_dir(target), f"prebuilt release {asset.name}", notes=notes)
