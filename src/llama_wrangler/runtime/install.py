"""Put a complete llama.cpp runtime (binaries, conversion tools, conversion venv) into a folder.

Everything is assembled in a hidden staging folder beside the target and renamed into place at the end,
so an interrupted or failed install never leaves something that looks usable; the manifest is written
last inside the staging folder. Used by ``runtime install`` (the app's data dir) and by CI's cache
(``tests/support/ci_cache.py``).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llama_wrangler.atomic import write_json_atomic
from llama_wrangler.errors import CancelledError, LlamaRuntimeError, WranglerError
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.runtime import sources
from llama_wrangler.runtime.backends import Platform, choose_backend
from llama_wrangler.runtime.build import build_llama
from llama_wrangler.runtime.locate import MANIFEST_NAME, exe_name, runtime_from_dir
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.runtime.sources import SourceKind, SourceTree
from llama_wrangler.runtime.toolchain import (
    REQUIREMENTS,
    ToolchainState,
    copy_tools,
    create_venv,
    toolchain_status,
)
from llama_wrangler.runtime.verify import probe_binary
from llama_wrangler.settings import Backend, Settings


def runtime_dir_name(backend: Backend | str, tree: SourceTree | None = None) -> str:
    """``b11312-cpu`` for the pinned tree; ``local-<digest>-cpu`` for a local tree that differs."""
    value = backend.value if isinstance(backend, Backend) else backend
    if tree is not None and not tree.pinned:
        return f"local-{sources.tree_digest(tree.path)}-{value}"
    return f"{PINNED.tag}-{value}"


def manifest_for(*, backend: str, source: str, flags: list[str], tool_versions: dict[str, str],
                 pinned: bool, build_seconds: float | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": PINNED.tag if pinned else "local",
        "build_number": PINNED.build_number if pinned else None,
        "commit": PINNED.commit if pinned else None,
        "llama_cpp_python_sdist": PINNED.llama_cpp_python_version,
        "backend": backend,
        "source": source,
        "flags": flags,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": f"{sys.platform}-{platform.machine()}",
        "tool_versions": {**tool_versions, "python": platform.python_version()},
        "build_seconds": round(build_seconds, 1) if build_seconds is not None else None,
        "recipe": PINNED.recipe,
        "toolchain_requirements": list(REQUIREMENTS),
        **(extra or {}),
    }


def swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing an older ``target`` only once the new one is complete."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    try:
        staging.rename(target)
    except OSError:
        if old.exists() and not target.exists():
            old.rename(target)
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _reuse_venv(target: Path, staging: Path) -> bool:
    """Keep a ready conversion venv from the runtime being replaced (minutes and GBs of torch)."""
    if target.is_dir() and toolchain_status(target).state is ToolchainState.READY:
        (target / "venv").rename(staging / "venv")
        return True
    return False


def carry_toolchain(target: Path, staging: Path) -> None:
    """A prebuilt release has no conversion tools: keep the ones the runtime being replaced had."""
    if (target / "tools").is_dir() and not (staging / "tools").exists():
        (target / "tools").rename(staging / "tools")
    if not (staging / "venv").exists():
        _reuse_venv(target, staging)


@dataclass
class InstallStep:
    """What one install did, for the CLI's report."""

    runtime: LlamaRuntime
    source: str
    build_seconds: float | None = None
    notes: list[str] = field(default_factory=list)


def install_from_tree(tree: SourceTree, target: Path, backend: Backend, *, work_dir: Path, log_dir: Path,
                      toolchain: bool = True, jobs: int | None = None, pip_args: tuple[str, ...] = (),
                      progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
                      extra_manifest: dict[str, Any] | None = None) -> InstallStep:
    """Build ``tree`` for ``backend`` and assemble the runtime dir ``target``."""
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    done = False
    try:
        built = build_llama(tree.path, work_dir / "build", backend, log_file=log_dir / f"build-{target.name}.log",
                            pinned=tree.pinned, jobs=jobs, progress=progress, cancel=cancel)
        bin_dir = staging / "bin"
        bin_dir.mkdir()
        for name, path in built.binaries.items():
            shutil.copy2(path, bin_dir / exe_name(name))
        info = probe_binary(bin_dir / exe_name("llama-server"))  # the copied binary runs on its own
        progress(Progress("tools", message="Copying the conversion tools"))
        copy_tools(tree.path, staging)
        if toolchain and not _reuse_venv(target, staging):
            create_venv(staging, progress=progress, cancel=cancel, log_file=log_dir / f"venv-{target.name}.log",
                        pip_args=pip_args)
        manifest = manifest_for(backend=backend.value, source=tree.description, flags=built.flags,
                                tool_versions=built.result.tool_versions, pinned=tree.pinned,
                                build_seconds=built.result.seconds,
                                extra={"reported_version": info.version, **(extra_manifest or {})})
        write_json_atomic(staging / MANIFEST_NAME, manifest)
        swap_into_place(staging, target)
        done = True
    finally:
        if not done:
            shutil.rmtree(staging, ignore_errors=True)
    return InstallStep(runtime_from_dir(target), tree.description, built.result.seconds)


@dataclass
class InstallRequest:
    source: SourceKind | None = None  # None: the archive, then PyPI
    local_path: Path | None = None
    backend: Backend = Backend.AUTO
    toolchain: bool = True
    jobs: int | None = None


def default_order(request: InstallRequest) -> list[SourceKind]:
    if request.local_path is not None:
        return [SourceKind.LOCAL]
    if request.source is not None:
        return [request.source]
    return [SourceKind.ARCHIVE, SourceKind.PYPI]


def install_runtime(settings: Settings, paths: AppPaths, request: InstallRequest, *,
                    progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
                    fetch_timeout: float | None = None) -> InstallStep:
    """Build and install the pinned runtime into ``paths.runtime_root`` from the first source that works."""
    backend = request.backend if request.backend is not Backend.AUTO else settings.runtime.backend
    detection = choose_backend(backend, Platform.current())
    notes = [f"backend {detection.backend.value}: {detection.reason}"]
    work_root = paths.cache_dir / "runtime-build"
    download_dir = paths.downloads_dir
    failures: list[str] = []
    for kind in default_order(request):
        if cancel is not None:
            cancel.raise_if_cancelled()
        work_dir = work_root / f"{kind.value}-{os.getpid()}"
        shutil.rmtree(work_dir, ignore_errors=True)
        try:
            tree = _get_tree(kind, request, settings, work_dir, download_dir, progress, cancel, fetch_timeout)
            target = paths.runtime_root / runtime_dir_name(detection.backend, tree)
            step = install_from_tree(tree, target, detection.backend, work_dir=work_dir, log_dir=paths.log_dir,
                                     toolchain=request.toolchain, jobs=request.jobs, progress=progress,
                                     cancel=cancel)
        except CancelledError:
            raise
        except WranglerError as exc:
            if len(default_order(request)) == 1 or kind is SourceKind.PYPI or _is_build_failure(exc):
                if failures:
                    raise LlamaRuntimeError(f"{exc} (earlier: {'; '.join(failures)})") from exc
                raise
            failures.append(f"{kind.value}: {exc}")
            progress(Progress("source", message=f"{kind.value} failed, trying the next source: {exc}"))
            continue
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        step.notes = notes + [f"skipped {f}" for f in failures]
        return step
    raise LlamaRuntimeError("No source could be used: " + "; ".join(failures))


def _is_build_failure(exc: WranglerError) -> bool:
    # A failed compile will fail the same way from another copy of the same tree: don't rebuild for nothing.
    return "build failed" in exc.message or "configure the build" in exc.message or "needs" in exc.message


def _get_tree(kind: SourceKind, request: InstallRequest, settings: Settings, work_dir: Path,
              download_dir: Path, progress: ProgressCallback, cancel: CancelToken | None,
              fetch_timeout: float | None) -> SourceTree:
    if kind is SourceKind.LOCAL:
        if request.local_path is None:
            raise LlamaRuntimeError("No local source folder was given.")
        return sources.from_local(request.local_path)
    if kind is SourceKind.ARCHIVE:
        url = settings.runtime.source_archive_url or PINNED.source_archive_url
        return sources.from_archive(url, work_dir, progress=progress, cancel=cancel, timeout=fetch_timeout)
    return sources.from_pypi(work_dir, download_dir=download_dir, progress=progress, cancel=cancel)


def install_toolchain(runtime_dir: Path, *, progress: ProgressCallback = ignore_progress,
                      cancel: CancelToken | None = None, log_dir: Path | None = None,
                      tree_getter: Callable[[], SourceTree] | None = None) -> Path:
    """Create the conversion toolchain for an existing runtime dir on demand (copying the tools first
    from ``tree_getter()`` when the dir has none, e.g. after a prebuilt release install)."""
    status = toolchain_status(runtime_dir)
    if status.state is ToolchainState.NO_SCRIPT:
        if tree_getter is None:
            raise LlamaRuntimeError(f"{runtime_dir} has no conversion script and no source to copy it from.")
        copy_tools(tree_getter().path, runtime_dir)
    if toolchain_status(runtime_dir).state is ToolchainState.READY:
        return runtime_dir / "venv"
    with contextlib.suppress(OSError):
        (runtime_dir / "venv").rename(runtime_dir / f".venv.old-{os.getpid()}")
    python = create_venv(runtime_dir, progress=progress, cancel=cancel,
                         log_file=(log_dir or runtime_dir) / f"venv-{runtime_dir.name}.log")
    shutil.rmtree(runtime_dir / f".venv.old-{os.getpid()}", ignore_errors=True)
    return python.parent.parent
