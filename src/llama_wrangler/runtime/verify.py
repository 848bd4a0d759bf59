"""Run a llama.cpp binary's ``--version`` and judge what it says.

llama-server prints, on stderr, ``version: 0.5.0-dev (build 11312, commit 0c1e57098)`` (current) or
``version: 1234 (abcdef0)`` (older builds), then ``built with <compiler> for <target>``.
``--list-devices`` names the GPUs the binary can use (``CUDA0: NVIDIA ...``), which is how we tell its
backend.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.runtime.pinned import MIN_SERVER_BUILD
from llama_wrangler.runtime.runtime_info import LlamaRuntime

VERSION_TIMEOUT_S = 20.0
_NEW = re.compile(r"version:\s*(?P<semver>\S+)\s*\(build\s+(?P<build>\d+),\s*commit\s+(?P<commit>[^)\s]+)\)")
_OLD = re.compile(r"version:\s*(?P<build>\d+)\s*\((?P<commit>[^)\s]+)\)")
_BUILT = re.compile(r"built with (?P<compiler>.+?) for (?P<target>\S+)")
_DEVICE = re.compile(r"^\s*(?P<kind>[A-Za-z]+)\d+:\s*(?P<name>.+)$")
DEVICE_BACKENDS = {"cuda": "cuda", "metal": "metal", "mtl": "metal", "vulkan": "vulkan", "rocm": "rocm",
                   "hip": "rocm", "sycl": "sycl", "opencl": "opencl"}


@dataclass(frozen=True)
class VersionInfo:
    build_number: int | None  # None when the binary reports 0 ("unknown", built without git)
    commit: str | None
    version: str | None = None  # the semantic version newer builds print, e.g. 0.5.0-dev
    compiler: str | None = None
    target: str | None = None
    devices: tuple[str, ...] = field(default_factory=tuple)


def parse_version_output(text: str) -> VersionInfo:
    """Parse ``--version`` output. Raises LlamaRuntimeError when there is no version line."""
    match = _NEW.search(text)
    semver = None
    if match:
        semver = match.group("semver")
    else:
        match = _OLD.search(text)
    if not match:
        first = text.strip().splitlines()[0][:200] if text.strip() else "(nothing)"
        raise LlamaRuntimeError(f"This does not look like llama.cpp: `--version` printed {first}.")
    build = int(match.group("build"))
    commit = match.group("commit")
    built = _BUILT.search(text)
    return VersionInfo(build_number=build or None, commit=None if commit == "unknown" else commit,
                       version=semver, compiler=built.group("compiler") if built else None,
                       target=built.group("target") if built else None)


def parse_devices(text: str) -> tuple[str, ...]:
    """Device lines of ``--list-devices`` (``CUDA0: NVIDIA H100 (80000 MiB, ...)``)."""
    devices = []
    after_header = False
    for line in text.splitlines():
        if line.strip().lower().startswith("available devices"):
            after_header = True
            continue
        if after_header and _DEVICE.match(line):
            devices.append(line.strip())
    return tuple(devices)


def backend_from_devices(devices: tuple[str, ...]) -> str:
    for device in devices:
        match = _DEVICE.match(device)
        if match:
            kind = match.group("kind").lower()
            for prefix, backend in DEVICE_BACKENDS.items():
                if kind.startswith(prefix):
                    return backend
    return "cpu"


def too_old(info: VersionInfo, minimum: int = MIN_SERVER_BUILD) -> bool:
    """True only when the build number is known and older than what our flags need."""
    return info.build_number is not None and info.build_number < minimum


def _run(argv: list[str], timeout: float) -> tuple[int, str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                             stdin=subprocess.DEVNULL, encoding="utf-8", errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise LlamaRuntimeError(f"{argv[0]} did not answer `{argv[1]}` within {timeout:.0f} s.") from exc
    except OSError as exc:
        raise LlamaRuntimeError(f"{argv[0]} could not be run: {exc.strerror or exc}.",
                                hint="It may be built for another system or missing a library.") from exc
    return out.returncode, out.stdout + out.stderr


def probe_binary(server: Path, *, timeout: float = VERSION_TIMEOUT_S) -> VersionInfo:
    """Run ``server --version`` and ``--list-devices``; what the binary says about itself."""
    code, text = _run([str(server), "--version"], timeout)
    info = parse_version_output(text)
    if code != 0:
        raise LlamaRuntimeError(f"{server} --version exited with status {code}: {text.strip()[-200:]}")
    code, text = _run([str(server), "--list-devices"], timeout)
    devices = parse_devices(text) if code == 0 else ()
    return replace(info, devices=devices)


@dataclass(frozen=True)
class Verified:
    runtime: LlamaRuntime
    info: VersionInfo
    problem: str | None  # set when the runtime runs but should not be used (too old)

    @property
    def usable(self) -> bool:
        return self.problem is None


def verify_runtime(runtime: LlamaRuntime, *, timeout: float = VERSION_TIMEOUT_S,
                   minimum_build: int = MIN_SERVER_BUILD) -> Verified:
    """Run the runtime's server and fill in build/commit/backend from what it reports.

    Raises LlamaRuntimeError when the binary does not run at all; a binary that runs but is too old comes
    back with ``problem`` set so the caller can report it rather than use it blindly.
    """
    if runtime.backend == "llama-cpp-python":
        raise LlamaRuntimeError("The llama-cpp-python fallback has no binary to verify.")
    info = probe_binary(runtime.server, timeout=timeout)
    backend = runtime.backend if runtime.backend != "unknown" else backend_from_devices(info.devices)
    updated = replace(runtime,
                      build_number=info.build_number if info.build_number is not None else runtime.build_number,
                      commit=info.commit or runtime.commit, backend=backend)
    problem = None
    if too_old(info, minimum_build):
        problem = (f"{runtime.server} is llama.cpp build {info.build_number}, older than build {minimum_build} "
                   "which the flags Llama Wrangler uses need.")
    return Verified(updated, info, problem)


def checked_runtime(runtime: LlamaRuntime, *, timeout: float = VERSION_TIMEOUT_S) -> LlamaRuntime:
    """The runtime to serve with, refusing a llama-server too old for our flags.

    A runtime we built or installed (its manifest names the build) is trusted as it is; a bare binary
    found in the settings, PATH or Homebrew is run once with ``--version`` first, so an old one fails
    with a plain message instead of with an unknown-flag error from the server.
    """
    if runtime.backend == "llama-cpp-python" or runtime.build_number is not None:
        return runtime
    verified = verify_runtime(runtime, timeout=timeout)
    if verified.problem:
        raise LlamaRuntimeError(verified.problem, hint="Run `llama-wrangler runtime install` to build the "
                                "tested version, or point runtime.llama_server_path at a newer llama-server.")
    return verified.runtime
