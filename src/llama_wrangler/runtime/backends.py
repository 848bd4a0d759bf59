"""Which GPU backend to build or install for this machine.

Detection is a pure function of (OS, CPU arch, which tools are on PATH) so it can be tested for every
machine kind without the hardware: tests pass a fake ``which``. That fake is the only stand-in the tests
use, because a GPU is a true edge of this project's test machines.
"""

from __future__ import annotations

import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from llama_wrangler.settings import Backend

Which = Callable[[str], str | None]

# cmake flags per backend (on top of the common ones in build.py).
CMAKE_FLAGS: dict[Backend, tuple[str, ...]] = {
    Backend.CPU: (),
    Backend.CUDA: ("-DGGML_CUDA=ON",),
    Backend.METAL: ("-DGGML_METAL=ON",),
    Backend.VULKAN: ("-DGGML_VULKAN=ON",),
    Backend.ROCM: ("-DGGML_HIP=ON",),
}


@dataclass(frozen=True)
class Platform:
    system: str  # 'linux', 'darwin', 'windows'
    machine: str  # 'x86_64', 'arm64', ...

    @classmethod
    def current(cls) -> Platform:
        system = "windows" if sys.platform.startswith("win") else sys.platform
        system = "linux" if system.startswith("linux") else system
        return cls(system=system, machine=normalise_arch(platform.machine()))


def normalise_arch(machine: str) -> str:
    lowered = machine.lower()
    if lowered in {"amd64", "x86_64", "x64"}:
        return "x86_64"
    if lowered in {"arm64", "aarch64"}:
        return "arm64"
    return lowered


@dataclass(frozen=True)
class Detection:
    backend: Backend
    reason: str
    tools: dict[str, str]  # tool name -> path, for the report


def detect_backend(plat: Platform, which: Which = shutil.which) -> Detection:
    """The best backend this machine can *build*: CUDA, Metal, ROCm, Vulkan, else CPU."""
    tools = {name: path for name in ("nvcc", "nvidia-smi", "hipconfig", "vulkaninfo", "glslc")
             if (path := which(name))}
    if plat.system == "darwin" and plat.machine == "arm64":
        return Detection(Backend.METAL, "macOS on Apple silicon", tools)
    if "nvcc" in tools and "nvidia-smi" in tools:
        return Detection(Backend.CUDA, "an NVIDIA driver (nvidia-smi) and the CUDA compiler (nvcc) are "
                         "installed", tools)
    if "hipconfig" in tools:
        return Detection(Backend.ROCM, "ROCm (hipconfig) is installed", tools)
    if "vulkaninfo" in tools and "glslc" in tools:
        return Detection(Backend.VULKAN, "Vulkan (vulkaninfo and glslc) is installed", tools)
    if "nvidia-smi" in tools:
        return Detection(Backend.CPU, "an NVIDIA driver is present but not the CUDA toolkit (nvcc); "
                         "building for CPU", tools)
    if "nvcc" in tools:
        # A CUDA toolkit without a driver (a build box, a container): a CUDA build could not run here.
        return Detection(Backend.CPU, "the CUDA compiler is installed but no NVIDIA driver (nvidia-smi); "
                         "building for CPU", tools)
    return Detection(Backend.CPU, "no GPU toolkit found", tools)


def choose_backend(requested: Backend, plat: Platform, which: Which = shutil.which) -> Detection:
    """The user's forced choice, or detection when it is 'auto'."""
    if requested is not Backend.AUTO:
        return Detection(requested, "chosen in the settings or on the command line", {})
    return detect_backend(plat, which)


def missing_build_tools(plat: Platform, which: Which = shutil.which) -> list[str]:
    """The build tools that are not on PATH (cmake, a C/C++ compiler)."""
    missing = [] if which("cmake") else ["cmake"]
    compilers = ("cl", "clang-cl", "g++", "clang++") if plat.system == "windows" else ("c++", "g++", "clang++")
    if not any(which(name) for name in compilers):
        missing.append("a C/C++ compiler")
    return missing


def install_hint(plat: Platform, missing: list[str]) -> str:
    """How to get the missing build tools on this OS."""
    if plat.system == "darwin":
        return "Install them with `xcode-select --install` and `brew install cmake`."
    if plat.system == "windows":
        return ("Install them with `winget install Kitware.CMake` and "
                "`winget install Microsoft.VisualStudio.2022.BuildTools` (C++ workload), or use "
                "`llama-wrangler runtime install --release` to download a prebuilt llama.cpp.")
    return "Install them with `sudo apt install cmake build-essential` (or your distribution's equivalent)."


def backend_missing_tools(backend: Backend, which: Which = shutil.which) -> list[str]:
    """Toolkits a forced backend needs that are not installed (explained before a long build fails)."""
    needs = {Backend.CUDA: ("nvcc",), Backend.ROCM: ("hipconfig",), Backend.VULKAN: ("glslc",)}
    return [tool for tool in needs.get(backend, ()) if not which(tool)]


def list_gpus(which: Which = shutil.which, timeout: float = 5.0) -> list[str]:
    """GPUs the machine reports (NVIDIA via nvidia-smi, AMD via rocm-smi); empty when none or unknown."""
    import subprocess

    gpus: list[str] = []
    smi = which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=timeout, check=False)
            gpus += [f"NVIDIA {line.strip()}" for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    rocm = which("rocm-smi")
    if rocm:
        try:
            out = subprocess.run([rocm, "--showproductname"], capture_output=True, text=True,
                                 timeout=timeout, check=False)
            gpus += [line.split(":", 2)[-1].strip() for line in out.stdout.splitlines()
                     if "Card series" in line]
        except (OSError, subprocess.TimeoutExpired):
            pass
    if sys.platform == "darwin" and platform.machine() == "arm64":
        gpus.append("Apple silicon GPU (Metal)")
    return gpus
