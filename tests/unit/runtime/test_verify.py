"""Parsing what llama-server says about itself, and judging it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.runtime.locate import runtime_from_binary
from llama_wrangler.runtime.verify import (
    VersionInfo,
    backend_from_devices,
    checked_runtime,
    parse_devices,
    parse_version_output,
    too_old,
)

CURRENT = """load_backend: loaded CPU backend
version: 0.5.0-dev (build 11312, commit 0c1e57098)
built with GNU 12.2.0 for Linux x86_64
"""
OLD = "version: 4521 (6171c9d2)\nbuilt with cc (Debian 12.2.0-14) 12.2.0 for x86_64-linux-gnu\n"
UNKNOWN = "version: 0.5.0-dev (build 0, commit unknown)\nbuilt with GNU 12.2.0 for Linux x86_64\n"


def test_parse_current_format() -> None:
    info = parse_version_output(CURRENT)
    assert info == VersionInfo(build_number=11312, commit="0c1e57098", version="0.5.0-dev",
                               compiler="GNU 12.2.0", target="Linux")


def test_parse_old_format() -> None:
    info = parse_version_output(OLD)
    assert info.build_number == 4521
    assert info.commit == "6171c9d2"
    assert info.version is None
    assert info.compiler == "cc (Debian 12.2.0-14) 12.2.0"


def test_build_without_git_reports_unknown() -> None:
    info = parse_version_output(UNKNOWN)
    assert info.build_number is None
    assert info.commit is None
    assert not too_old(info)  # cannot be judged, so not called too old


@pytest.mark.parametrize("text", ["", "usage: something else\n", "Python 3.11.2\n"])
def test_not_llama_cpp(text: str) -> None:
    with pytest.raises(LlamaRuntimeError, match=r"does not look like llama\.cpp"):
        parse_version_output(text)


def test_too_old() -> None:
    assert too_old(parse_version_output(OLD), minimum=5000)
    assert not too_old(parse_version_output(CURRENT), minimum=5000)


def test_devices_and_backend() -> None:
    cuda = ("ggml_cuda_init: found 1 CUDA devices\nAvailable devices:\n"
            "  CUDA0: NVIDIA H100 80GB (81000 MiB, 80000 MiB free)\n")
    assert parse_devices(cuda) == ("CUDA0: NVIDIA H100 80GB (81000 MiB, 80000 MiB free)",)
    assert backend_from_devices(parse_devices(cuda)) == "cuda"
    metal = "Available devices:\n  MTL0: Apple M3 Max (98304 MiB, 98303 MiB free)\n"
    assert backend_from_devices(parse_devices(metal)) == "metal"
    vulkan = "Available devices:\n  Vulkan0: AMD Radeon (8192 MiB, 8000 MiB free)\n"
    assert backend_from_devices(parse_devices(vulkan)) == "vulkan"
    assert parse_devices("Available devices:\n") == ()
    assert backend_from_devices(()) == "cpu"


def _stand_in_server(path: Path, version_text: str) -> Path:
    """A shell script that answers --version like a llama-server of that build (POSIX only)."""
    path.write_text("#!/bin/sh\ncat >&2 <<'EOF'\n" + version_text + "EOF\n")
    path.chmod(0o755)
    return path


@pytest.mark.skipif(os.name == "nt", reason="stand-in binaries are shell scripts")
def test_checked_runtime_refuses_an_old_bare_binary(tmp_path: Path) -> None:
    old = runtime_from_binary(_stand_in_server(tmp_path / "llama-server", OLD))
    with pytest.raises(LlamaRuntimeError, match="older than build"):
        checked_runtime(old)


@pytest.mark.skipif(os.name == "nt", reason="stand-in binaries are shell scripts")
def test_checked_runtime_fills_in_a_current_bare_binary(tmp_path: Path) -> None:
    current = runtime_from_binary(_stand_in_server(tmp_path / "llama-server", CURRENT))
    assert current.build_number is None
    assert checked_runtime(current).build_number == 11312
