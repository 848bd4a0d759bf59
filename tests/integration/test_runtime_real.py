"""The real pinned runtime (built once by ci_cache): verify, prebuilt-release install, `runtime status`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from llama_wrangler.errors import ChecksumMismatchError, DownloadError, LlamaRuntimeError
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.backends import Platform
from llama_wrangler.runtime.locate import locate_runtime, read_manifest, runtime_from_dir
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.release import install_release
from llama_wrangler.runtime.toolchain import ToolchainState, toolchain_status
from llama_wrangler.runtime.verify import verify_runtime
from llama_wrangler.settings import Backend, Settings
from tests.support.static_http import static_server

pytestmark = pytest.mark.runtime


def test_real_runtime_reports_the_pinned_version(runtime_dir: Path) -> None:
    runtime = runtime_from_dir(runtime_dir)
    assert runtime.quantize is not None and runtime.convert_script is not None
    verified = verify_runtime(runtime)
    assert verified.usable, verified.problem
    assert verified.runtime.build_number == PINNED.build_number
    assert verified.runtime.commit and PINNED.commit.startswith(verified.runtime.commit)
    assert verified.runtime.backend == "cpu"
    assert verified.info.compiler  # "built with ..." was parsed from the real output
    manifest = read_manifest(runtime_dir)
    assert manifest["commit"] == PINNED.commit and "-DBUILD_SHARED_LIBS=OFF" in manifest["flags"]


def _asset_name() -> str:
    plat = Platform.current()
    arch = "arm64" if plat.machine == "arm64" else "x64"
    system = {"linux": "ubuntu", "darwin": "macos", "windows": "win-cpu"}[plat.system]
    return f"llama-{PINNED.tag}-bin-{system}-{arch}.zip"


def _zip_of(files: dict[str, Path | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            zf.writestr(info, content.read_bytes() if isinstance(content, Path) else content)
    return buffer.getvalue()


def _release_json(base: str, name: str, body: bytes, *, digest: str | None = None) -> bytes:
    sha = digest or hashlib.sha256(body).hexdigest()
    return json.dumps({"tag_name": PINNED.tag, "assets": [
        {"name": "cudart-llama-bin-win-cuda-12.4-x64.zip", "browser_download_url": f"{base}/nope.zip"},
        {"name": name, "browser_download_url": f"{base}/dl/{name}", "size": len(body), "digest": f"sha256:{sha}"},
    ]}).encode()


def test_release_install_from_loopback(runtime_dir: Path, app_paths: AppPaths) -> None:
    runtime = runtime_from_dir(runtime_dir)
    assert runtime.quantize is not None
    name = _asset_name()
    body = _zip_of({"build/bin/llama-server": runtime.server, "build/bin/llama-quantize": runtime.quantize})
    with static_server() as server:
        server.routes["/releases/tags/" + PINNED.tag] = (200, "application/json",
                                                         _release_json(server.base_url, name, body))
        server.routes["/dl/" + name] = (200, "application/zip", body)
        step = install_release(Settings(), app_paths, backend=Backend.CPU,
                               api_url=server.url("/releases/tags/" + PINNED.tag))
    installed = step.runtime
    assert installed.root == app_paths.runtime_root / f"{PINNED.tag}-cpu"
    assert installed.server == installed.root / "bin" / "llama-server"
    assert installed.quantize is not None
    assert read_manifest(installed.root)["source"].endswith(name)
    assert verify_runtime(installed).info.build_number == PINNED.build_number  # what the binary says
    # ... and it is what the app now finds.
    assert locate_runtime(Settings(), app_paths, which=lambda _n: None, homebrew_dirs=[]).root == installed.root
    assert [p.name for p in app_paths.runtime_root.iterdir()] == [f"{PINNED.tag}-cpu"]


def test_release_with_wrong_bytes_or_wrong_version_is_not_installed(runtime_dir: Path, app_paths: AppPaths) -> None:
    name = _asset_name()
    body = _zip_of({"llama-server": runtime_from_dir(runtime_dir).server})
    impostor = _zip_of({"llama-server": b"#!/bin/sh\necho 'version: 0.4.0 (build 9000, commit deadbeef1)' >&2\n"})
    api = "/releases/tags/" + PINNED.tag
    with static_server() as server:
        server.routes["/dl/" + name] = (200, "application/zip", body)
        server.routes[api] = (200, "application/json", _release_json(server.base_url, name, body, digest="0" * 64))
        with pytest.raises(ChecksumMismatchError):
            install_release(Settings(), app_paths, backend=Backend.CPU, api_url=server.url(api))
        if os.name != "nt":
            server.routes["/dl/" + name] = (200, "application/zip", impostor)
            server.routes[api] = (200, "application/json", _release_json(server.base_url, name, impostor))
            with pytest.raises(LlamaRuntimeError, match="not the pinned"):
                install_release(Settings(), app_paths, backend=Backend.CPU, api_url=server.url(api))
        server.routes[api] = (404, "application/json", b'{"message": "Not Found"}')
        with pytest.raises(DownloadError, match="404"):
            install_release(Settings(), app_paths, backend=Backend.CPU, api_url=server.url(api))
    assert not app_paths.runtime_root.exists() or list(app_paths.runtime_root.iterdir()) == []


def test_real_conversion_toolchain_is_ready(runtime_dir: Path) -> None:
    status = toolchain_status(runtime_dir, check_imports=True)
    assert status.state is ToolchainState.READY, status.detail
    assert status.detail.startswith("torch 2.13.0")


def _cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLAMA_WRANGLER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "llama_wrangler", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_runtime_status_command(runtime_dir: Path, app_paths: AppPaths) -> None:
    missing = _cli(["runtime", "status"], app_paths.data_dir)
    if "found in" not in missing.stdout:  # a llama-server on this machine's PATH would be found instead
        assert missing.returncode == 1
        assert "not found" in missing.stdout and "runtime install" in missing.stdout

    app_paths.runtime_root.mkdir(parents=True, exist_ok=True)
    (app_paths.runtime_root / f"{PINNED.tag}-cpu").symlink_to(runtime_dir, target_is_directory=True)
    result = _cli(["runtime", "status", "--json"], app_paths.data_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["found"] and report["where"] == "app" and report["usable"]
    assert report["build_number"] == PINNED.build_number and report["is_pinned"]
    assert report["backend"] == "cpu"
    assert report["toolchain"]["state"] == "ready"
    text = _cli(["runtime", "status"], app_paths.data_dir)
    assert text.returncode == 0
    assert "found in the app's data folder" in text.stdout
    assert f"build {PINNED.build_number}" in text.stdout and "the pinned version" in text.stdout
    assert "conversion:     ready (torch 2.13.0" in text.stdout


def test_install_from_an_unreachable_archive_fails_fast_and_says_so(app_paths: AppPaths) -> None:
    with static_server() as server:
        url = server.url("/llama.cpp-b11312.tar.gz")  # answers 404
        (app_paths.config_dir / "settings.json").write_text(json.dumps({"runtime": {"source_archive_url": url}}))
        result = _cli(["runtime", "install", "--archive", "--no-toolchain"], app_paths.data_dir)
    assert result.returncode == 1
    assert "404" in result.stderr and url in result.stderr
    assert not any(p.name.startswith(PINNED.tag) for p in app_paths.runtime_root.glob("*"))
