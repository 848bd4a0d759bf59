"""Build llama.cpp's ``llama-server``, ``llama-quantize`` and the RPC worker (``ggml-rpc-server``) from a
source tree with cmake.

The generic driver (:func:`cmake_build`) runs configure + build for any cmake project, parses ``[ NN%]``
lines into progress, writes the full log, and kills the whole build on cancel; :func:`build_llama` is the
llama.cpp recipe on top of it. Libraries are static so the resulting ``bin/`` folder is relocatable.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.runtime.backends import (
    CMAKE_FLAGS,
    Platform,
    Which,
    backend_missing_tools,
    install_hint,
    missing_build_tools,
)
from llama_wrangler.runtime.locate import exe_name
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.process import run_streaming
from llama_wrangler.settings import Backend

# The RPC worker is named ``ggml-rpc-server`` in the pinned tree (``rpc-server`` in older ones); it pools
# machines for a model too big for one (``llama-wrangler worker``).
RPC_TARGET = "ggml-rpc-server"
LLAMA_TARGETS = ("llama-server", "llama-quantize", RPC_TARGET)
# Static libraries (relocatable bin/), no libcurl/OpenSSL (the app downloads models itself), no tests or
# examples (minutes of build we never use).
COMMON_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DGGML_RPC=ON",  # llama-server --rpc, and the worker binary
)
_PERCENT = re.compile(r"^\[\s*(\d{1,3})%\]")
_NINJA = re.compile(r"^\[(\d+)/(\d+)\]")
_COMPILER = re.compile(r"The (C|CXX) compiler identification is (.+)$")


def parse_progress_line(line: str) -> int | None:
    """Percent done from a build output line: Makefiles print ``[ 42%]``, Ninja ``[12/345]``."""
    match = _PERCENT.match(line.strip())
    if match:
        return min(100, int(match.group(1)))
    match = _NINJA.match(line.strip())
    if match and int(match.group(2)) > 0:
        return min(100, int(match.group(1)) * 100 // int(match.group(2)))
    return None


@dataclass
class CmakeResult:
    build_dir: Path
    log_file: Path
    seconds: float
    tool_versions: dict[str, str] = field(default_factory=dict)


def cmake_build(source: Path, build_dir: Path, *, flags: Sequence[str], targets: Sequence[str],
                log_file: Path, jobs: int | None = None, progress: ProgressCallback = ignore_progress,
                cancel: CancelToken | None = None, which: Which = shutil.which,
                plat: Platform | None = None) -> CmakeResult:
    """Configure and build ``targets`` of the cmake project in ``source``. Raises LlamaRuntimeError
    naming the log when cmake fails, CancelledError when cancelled."""
    plat = plat or Platform.current()
    missing = missing_build_tools(plat, which)
    if missing:
        raise LlamaRuntimeError(f"Building llama.cpp needs {' and '.join(missing)}, which "
                                f"{'is' if len(missing) == 1 else 'are'} not installed.",
                                hint=install_hint(plat, missing))
    cmake = which("cmake") or "cmake"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    versions: dict[str, str] = {}

    def on_configure_line(line: str) -> None:
        match = _COMPILER.search(line)
        if match:
            versions["c" if match.group(1) == "C" else "cxx"] = match.group(2).strip()

    def on_build_line(line: str) -> None:
        percent = parse_progress_line(line)
        if percent is not None:
            progress(Progress("build", percent, 100, line.strip()[:200]))

    with log_file.open("w", encoding="utf-8") as log:
        version_lines: list[str] = []
        run_streaming([cmake, "--version"], cancel=cancel, on_line=version_lines.append, log=log)
        if version_lines:
            versions["cmake"] = version_lines[0].removeprefix("cmake version ").strip()
        progress(Progress("configure", message="Configuring (cmake)"))
        argv = [cmake, "-S", str(source), "-B", str(build_dir), *flags]
        log.write(f"$ {' '.join(argv)}\n")
        code = run_streaming(argv, cancel=cancel, on_line=on_configure_line, log=log)
        if code != 0:
            raise LlamaRuntimeError(f"cmake could not configure the build (exit {code}).",
                                    hint=f"The full log is in {log_file}.")
        argv = [cmake, "--build", str(build_dir), "--config", "Release", "--target", *targets,
                "-j", str(jobs or os.cpu_count() or 2)]
        log.write(f"$ {' '.join(argv)}\n")
        progress(Progress("build", 0, 100, "Compiling"))
        code = run_streaming(argv, cancel=cancel, on_line=on_build_line, log=log)
        if code != 0:
            raise LlamaRuntimeError(f"The build failed (exit {code}).", hint=f"The full log is in {log_file}.")
    progress(Progress("build", 100, 100, "Build finished"))
    return CmakeResult(build_dir, log_file, time.monotonic() - started, versions)


def find_built(build_dir: Path, name: str) -> Path:
    """Where cmake put ``name`` (single-config generators: bin/; Visual Studio: bin/Release/)."""
    exe = exe_name(name)
    for candidate in (build_dir / "bin" / exe, build_dir / "bin" / "Release" / exe, build_dir / exe):
        if candidate.is_file():
            return candidate
    raise LlamaRuntimeError(f"The build finished but {exe} is not in {build_dir / 'bin'}.")


def llama_flags(backend: Backend, *, build_number: int | None, commit: str | None) -> list[str]:
    """The cmake flags for one llama.cpp build (the sdist's tree has no git history to read these from)."""
    flags = [*COMMON_FLAGS, *CMAKE_FLAGS[backend]]
    if build_number is not None:
        flags.append(f"-DLLAMA_BUILD_NUMBER={build_number}")
    if commit:
        flags.append(f"-DLLAMA_BUILD_COMMIT={commit[:9]}")
    return flags


@dataclass
class LlamaBuild:
    binaries: dict[str, Path]
    flags: list[str]
    result: CmakeResult


def build_llama(tree: Path, build_dir: Path, backend: Backend, *, log_file: Path, pinned: bool = True,
                jobs: int | None = None, progress: ProgressCallback = ignore_progress,
                cancel: CancelToken | None = None, which: Which = shutil.which) -> LlamaBuild:
    """Build llama-server, llama-quantize and the RPC worker from ``tree`` for ``backend``."""
    if backend is Backend.AUTO:
        raise ValueError("resolve Backend.AUTO with backends.choose_backend first")
    missing = backend_missing_tools(backend, which)
    if missing:
        raise LlamaRuntimeError(f"Building for {backend.value} needs {', '.join(missing)}, which is not "
                                "installed.", hint="Install the toolkit or choose another backend (--backend cpu).")
    flags = llama_flags(backend, build_number=PINNED.build_number if pinned else None,
                        commit=PINNED.commit if pinned else None)
    result = cmake_build(tree, build_dir, flags=flags, targets=LLAMA_TARGETS, log_file=log_file, jobs=jobs,
                         progress=progress, cancel=cancel, which=which)
    binaries = {name: find_built(build_dir, name) for name in LLAMA_TARGETS}
    return LlamaBuild(binaries, flags, result)
