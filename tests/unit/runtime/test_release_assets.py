"""Choosing the prebuilt release asset for OS / CPU / backend."""

from __future__ import annotations

import pytest

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.runtime.backends import Platform
from llama_wrangler.runtime.release import Asset, choose_asset, parse_assets
from llama_wrangler.settings import Backend

TAG = "b11312"
NAMES = [
    f"llama-{TAG}-bin-ubuntu-x64.zip",
    f"llama-{TAG}-bin-ubuntu-vulkan-x64.zip",
    f"llama-{TAG}-bin-ubuntu-arm64.zip",
    f"llama-{TAG}-bin-macos-arm64.zip",
    f"llama-{TAG}-bin-macos-x64.zip",
    f"llama-{TAG}-bin-win-cpu-x64.zip",
    f"llama-{TAG}-bin-win-cpu-arm64.zip",
    f"llama-{TAG}-bin-win-cuda-12.4-x64.zip",
    f"llama-{TAG}-bin-win-cuda-13.1-x64.zip",
    f"llama-{TAG}-bin-win-vulkan-x64.zip",
    f"llama-{TAG}-bin-win-hip-radeon-x64.zip",
    "cudart-llama-bin-win-cuda-12.4-x64.zip",
    f"llama-{TAG}-xcframework.zip",
    "llama-b9999-bin-ubuntu-x64.zip",  # another tag must never be picked
]
ASSETS = [Asset(name, f"https://example.invalid/{name}", 1, None) for name in NAMES]


@pytest.mark.parametrize(("plat", "backend", "expected"), [
    (Platform("linux", "x86_64"), Backend.CPU, "bin-ubuntu-x64.zip"),
    (Platform("linux", "x86_64"), Backend.VULKAN, "bin-ubuntu-vulkan-x64.zip"),
    (Platform("linux", "arm64"), Backend.CPU, "bin-ubuntu-arm64.zip"),
    (Platform("darwin", "arm64"), Backend.METAL, "bin-macos-arm64.zip"),
    (Platform("darwin", "x86_64"), Backend.CPU, "bin-macos-x64.zip"),
    (Platform("windows", "x86_64"), Backend.CPU, "bin-win-cpu-x64.zip"),
    (Platform("windows", "arm64"), Backend.CPU, "bin-win-cpu-arm64.zip"),
    (Platform("windows", "x86_64"), Backend.CUDA, "bin-win-cuda-13.1-x64.zip"),  # newest CUDA
    (Platform("windows", "x86_64"), Backend.VULKAN, "bin-win-vulkan-x64.zip"),
    (Platform("windows", "x86_64"), Backend.ROCM, "bin-win-hip-radeon-x64.zip"),
])
def test_choose_asset(plat: Platform, backend: Backend, expected: str) -> None:
    asset = choose_asset(ASSETS, TAG, plat, backend)
    assert asset is not None
    assert asset.name == f"llama-{TAG}-{expected}"


def test_no_asset_for_a_combination_that_is_not_published() -> None:
    assert choose_asset(ASSETS, TAG, Platform("linux", "x86_64"), Backend.CUDA) is None
    assert choose_asset(ASSETS, "b1", Platform("linux", "x86_64"), Backend.CPU) is None


def test_tar_gz_assets_are_accepted() -> None:
    assets = [Asset(f"llama-{TAG}-bin-ubuntu-x64.tar.gz", "u", None, None)]
    chosen = choose_asset(assets, TAG, Platform("linux", "x86_64"), Backend.CPU)
    assert chosen is not None and chosen.name.endswith(".tar.gz")


def test_parse_assets_reads_digest_and_skips_junk() -> None:
    release = {"tag_name": TAG, "assets": [
        {"name": "a.zip", "browser_download_url": "http://x/a.zip", "size": 5, "digest": "sha256:" + "ab" * 32},
        {"name": "b.zip", "browser_download_url": "http://x/b.zip"},
        {"name": "no-url.zip"},
        "not a dict",
    ]}
    assets = parse_assets(release)
    assert [a.name for a in assets] == ["a.zip", "b.zip"]
    assert assets[0].sha256 == "ab" * 32 and assets[0].size == 5
    assert assets[1].sha256 is None and assets[1].size is None


def test_parse_assets_rejects_a_non_release() -> None:
    with pytest.raises(LlamaRuntimeError):
        parse_assets({"message": "Not Found"})
