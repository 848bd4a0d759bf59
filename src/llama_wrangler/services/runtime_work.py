"""The llama.cpp work the window starts from its llama.cpp page and first-run banner, built once as
:class:`~llama_wrangler.work.Work` (Qt-free): install (a prebuilt release when upstream publishes one for
this OS / CPU / GPU, else a build from source), rebuild from source, the conversion toolchain, and the
check of a llama-server the user points at."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from llama_wrangler.errors import CancelledError, LlamaRuntimeError, WranglerError
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback
from llama_wrangler.runtime import sources
from llama_wrangler.runtime.backends import Platform, Which, choose_backend, install_hint, missing_build_tools
from llama_wrangler.runtime.install import InstallRequest, InstallStep, install_runtime, install_toolchain
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.release import asset_patterns, install_release
from llama_wrangler.runtime.verify import VersionInfo, probe_binary, too_old
from llama_wrangler.settings import Backend, Settings
from llama_wrangler.work import JobKind, Work

# What the conversion environment weighs once installed (torch CPU + transformers + the rest), measured
# on Linux x86_64 with the pinned requirements; said before the user starts it.
TOOLCHAIN_SIZE_TEXT = "about 1.2 GB"


class RuntimeWork:
    """Builds the runtime jobs. ``settings`` is read when a job runs, so a changed backend counts."""

    def __init__(self, paths: AppPaths, settings: Callable[[], Settings], *,
                 plat: Callable[[], Platform] = Platform.current, which: Which = shutil.which) -> None:
        self._paths = paths
        self._settings = settings
        self._plat = plat
        self._which = which

    def build_log(self) -> Path:
        """Where a source build of the pinned version for the chosen backend writes its log."""
        backend = choose_backend(self._settings().runtime.backend, self._plat(), self._which).backend
        return self._paths.log_dir / f"build-{PINNED.tag}-{backend.value}.log"

    def install(self) -> Work[InstallStep]:
        """The pinned llama.cpp: the prebuilt release if one exists here, else built from source."""
        return Work(JobKind.BUILD, f"Install llama.cpp {PINNED.tag}", self._install, log_file=self.build_log())

    def rebuild(self) -> Work[InstallStep]:
        """Build the pinned llama.cpp from source (replaces the installed one only when it succeeds)."""
        return Work(JobKind.BUILD, f"Build llama.cpp {PINNED.tag} from source", self._build,
                    log_file=self.build_log())

    def toolchain(self, runtime_root: Path) -> Work[Path]:
        """The conversion environment (torch, transformers) beside the app's runtime."""
        log = self._paths.log_dir / f"venv-{runtime_root.name}.log"

        def run(progress: ProgressCallback, cancel: CancelToken) -> Path:
            paths = self._paths.ensure()
            work = paths.cache_dir / "runtime-build" / "toolchain-sources"
            try:
                return install_toolchain(
                    runtime_root, progress=progress, cancel=cancel, log_dir=paths.log_dir,
                    tree_getter=lambda: sources.from_pypi(work, download_dir=paths.downloads_dir,
                                                          progress=progress, cancel=cancel))
            finally:
                shutil.rmtree(work, ignore_errors=True)

        return Work(JobKind.BUILD, "Install the conversion tools", run, log_file=log)

    # -- the work itself (on a worker thread) ------------------------------------------------------------
    def _install(self, progress: ProgressCallback, cancel: CancelToken) -> InstallStep:
        settings = self._settings()
        plat = self._plat()
        backend = choose_backend(settings.runtime.backend, plat, self._which).backend
        release_problem = ""
        if asset_patterns(PINNED.tag, plat, backend):
            try:
                # This backend exactly: a GPU machine is better served by a GPU build than a CPU release.
                return self._release(settings, backend, progress, cancel)
            except CancelledError:
                raise
            except WranglerError as exc:
                release_problem = str(exc)
                progress(Progress("release", message=f"No prebuilt release could be used ({exc}); "
                                                     "building from source"))
        if backend is not Backend.CPU and missing_build_tools(plat, self._which) and \
                asset_patterns(PINNED.tag, plat, Backend.CPU):
            # No compiler to build for the GPU: a CPU release still runs models (slower).
            return self._release(settings, Backend.CPU, progress, cancel)
        return self._build(progress, cancel, release_problem=release_problem)

    def _release(self, settings: Settings, backend: Backend, progress: ProgressCallback,
                 cancel: CancelToken) -> InstallStep:
        return install_release(settings, self._paths.ensure(), backend=backend, plat=self._plat(),
                               progress=progress, cancel=cancel)

    def _build(self, progress: ProgressCallback, cancel: CancelToken, *,
               release_problem: str = "") -> InstallStep:
        plat = self._plat()
        missing = missing_build_tools(plat, self._which)
        if missing:
            before = f"The prebuilt release could not be installed ({release_problem}), and building" \
                if release_problem else "Building"
            raise LlamaRuntimeError(
                f"{before} llama.cpp needs {' and '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed.", hint=install_hint(plat, missing))
        # The conversion tools (~1.2 GB) are their own button: serving a model must not wait for torch.
        return install_runtime(self._settings(), self._paths.ensure(), InstallRequest(toolchain=False),
                               progress=progress, cancel=cancel)


def check_llama_server(path: Path) -> VersionInfo:
    """Run ``path --version`` (and ``--list-devices``): is this a llama-server we can use? Raises
    :class:`LlamaRuntimeError` saying why not."""
    if not path.is_file():
        raise LlamaRuntimeError(f"{path} is not a file.")
    info = probe_binary(path)
    if too_old(info):
        raise LlamaRuntimeError(f"{path} is llama.cpp build {info.build_number}, too old for the flags Llama "
                                "Wrangler passes.", hint=f"Use a newer llama-server, or install {PINNED.tag}.")
    return info
