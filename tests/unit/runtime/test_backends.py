"""Backend detection and build-tool checks, fed fake ``which`` results (a GPU is a true edge here)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from llama_wrangler.runtime.backends import (
    Platform,
    Which,
    backend_missing_tools,
    choose_backend,
    detect_backend,
    install_hint,
    missing_build_tools,
    normalise_arch,
)
from llama_wrangler.settings import Backend

LINUX = Platform("linux", "x86_64")
MAC_ARM = Platform("darwin", "arm64")
MAC_INTEL = Platform("darwin", "x86_64")
WINDOWS = Platform("windows", "x86_64")


def fake_which(*present: str) -> Which:
    tools = set(present)

    def which(name: str) -> str | None:
        return f"/fake/bin/{name}" if name in tools else None

    return which


def detect(plat: Platform, tools: Iterable[str]) -> Backend:
    return detect_backend(plat, fake_which(*tools)).backend


@pytest.mark.parametrize(("plat", "tools", "expected"), [
    (LINUX, [], Backend.CPU),
    (LINUX, ["nvcc", "nvidia-smi"], Backend.CUDA),
    (LINUX, ["nvidia-smi"], Backend.CPU),  # driver without toolkit: cannot build CUDA
    (LINUX, ["nvcc"], Backend.CPU),  # toolkit without driver: a CUDA build could not run here
    (LINUX, ["hipconfig"], Backend.ROCM),
    (LINUX, ["vulkaninfo", "glslc"], Backend.VULKAN),
    (LINUX, ["vulkaninfo"], Backend.CPU),  # no shader compiler: a Vulkan build would fail
    (LINUX, ["nvcc", "nvidia-smi", "vulkaninfo", "glslc"], Backend.CUDA),
    (MAC_ARM, [], Backend.METAL),
    (MAC_INTEL, [], Backend.CPU),
    (WINDOWS, ["nvcc", "nvidia-smi"], Backend.CUDA),
    (WINDOWS, ["vulkaninfo", "glslc"], Backend.VULKAN),
])
def test_detect_backend(plat: Platform, tools: list[str], expected: Backend) -> None:
    assert detect(plat, tools) is expected


def test_detection_reports_tools_it_saw() -> None:
    detection = detect_backend(LINUX, fake_which("nvcc", "nvidia-smi"))
    assert detection.tools == {"nvcc": "/fake/bin/nvcc", "nvidia-smi": "/fake/bin/nvidia-smi"}
    assert "nvcc" in detection.reason


def test_forced_backend_wins_over_detection() -> None:
    detection = choose_backend(Backend.VULKAN, MAC_ARM, fake_which())
    assert detection.backend is Backend.VULKAN
    assert choose_backend(Backend.AUTO, MAC_ARM, fake_which()).backend is Backend.METAL


def test_missing_build_tools() -> None:
    assert missing_build_tools(LINUX, fake_which("cmake", "c++")) == []
    assert missing_build_tools(LINUX, fake_which("c++")) == ["cmake"]
    assert missing_build_tools(LINUX, fake_which("cmake")) == ["a C/C++ compiler"]
    assert missing_build_tools(WINDOWS, fake_which("cmake", "cl")) == []
    assert missing_build_tools(WINDOWS, fake_which("cmake", "c++")) == [
        "a C/C++ compiler"]


@pytest.mark.parametrize(("plat", "word"), [(LINUX, "apt"), (MAC_ARM, "brew"), (WINDOWS, "winget")])
def test_install_hint_is_os_specific(plat: Platform, word: str) -> None:
    assert word in install_hint(plat, ["cmake"])


def test_forced_backend_without_its_toolkit_is_named() -> None:
    assert backend_missing_tools(Backend.CUDA, fake_which()) == ["nvcc"]
    assert backend_missing_tools(Backend.CUDA, fake_which("nvcc")) == []
    assert backend_missing_tools(Backend.CPU, fake_which()) == []


@pytest.mark.parametrize(("raw", "expected"), [("AMD64", "x86_64"), ("x86_64", "x86_64"), ("aarch64", "arm64"),
                                               ("arm64", "arm64"), ("riscv64", "riscv64")])
def test_normalise_arch(raw: str, expected: str) -> None:
    assert normalise_arch(raw) == expected
