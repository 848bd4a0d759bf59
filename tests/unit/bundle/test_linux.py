"""The Linux AppDir around the PyInstaller folder, and the AppImage assembly (runtime + squashfs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scripts.bundle.linux import (
    APPIMAGE_TYPE2_MAGIC,
    check_runtime,
    make_appdir,
    make_appimage,
    squashfs_command,
)

from tests.support.tools import require_tool


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "dist" / "llama-wrangler"
    (folder / "_internal").mkdir(parents=True)
    exe = folder / "llama-wrangler"
    exe.write_text("#!/bin/sh\necho started \"$@\"\n")
    exe.chmod(0o755)
    return folder


@pytest.fixture
def icons(tmp_path: Path) -> dict[int, Path]:
    out = {}
    for size in (16, 256, 512):
        path = tmp_path / f"{size}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([size % 256]))
        out[size] = path
    return out


def test_appdir_layout(bundle: Path, icons: dict[int, Path], tmp_path: Path) -> None:
    appdir = make_appdir(bundle, tmp_path / "AppDir", icons)
    apprun = appdir / "AppRun"
    assert apprun.stat().st_mode & 0o111
    out = subprocess.run([str(apprun), "x"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "started x", "AppRun starts the bundled executable with the arguments"
    desktop = appdir / "llama-wrangler.desktop"
    assert "Exec=llama-wrangler" in desktop.read_text().splitlines()
    assert (appdir / "usr/share/applications/llama-wrangler.desktop").read_text() == desktop.read_text()
    assert (appdir / "usr/share/icons/hicolor/512x512/apps/llama-wrangler.png").read_bytes() == icons[512].read_bytes()
    assert (appdir / "llama-wrangler.png").read_bytes() == icons[256].read_bytes(), "the top icon is 256 px"
    assert (appdir / ".DirIcon").is_symlink()
    validator = shutil.which("desktop-file-validate")
    if validator:
        assert subprocess.run([validator, str(desktop)], capture_output=True, check=False).returncode == 0


def test_a_file_that_is_not_a_type2_runtime_is_refused(tmp_path: Path) -> None:
    not_runtime = tmp_path / "runtime"
    not_runtime.write_bytes(b"\x7fELF" + b"\0" * 60)
    with pytest.raises(ValueError, match="not an AppImage type-2 runtime"):
        check_runtime(not_runtime)


def test_squashfs_options_the_runtime_reads() -> None:
    argv = squashfs_command(Path("AppDir"), Path("x.squashfs"))
    assert argv[:3] == ["mksquashfs", "AppDir", "x.squashfs"]
    assert "-root-owned" in argv and argv[argv.index("-comp") + 1] == "zstd"


def test_the_appimage_is_the_runtime_then_a_squashfs_of_the_appdir(bundle: Path, icons: dict[int, Path],
                                                                  tmp_path: Path) -> None:
    require_tool("mksquashfs", "makes the AppImage's file system (Debian's squashfs-tools)")
    unsquashfs = require_tool("unsquashfs", "reads the AppImage's file system back (squashfs-tools)")
    appdir = make_appdir(bundle, tmp_path / "AppDir", icons)
    # Only the header matters to the assembly; a real runtime is the AppImage project's static ELF.
    runtime = tmp_path / "runtime-x86_64"
    header = b"\x7fELF\x02\x01\x01\x00" + APPIMAGE_TYPE2_MAGIC + b"\0" * 53
    runtime.write_bytes(header)
    image = make_appimage(appdir, runtime, tmp_path / "Llama_Wrangler-x86_64.AppImage", tmp_path)
    data = image.read_bytes()
    assert data.startswith(header) and image.stat().st_mode & 0o111
    squash = tmp_path / "payload.squashfs"
    squash.write_bytes(data[len(header):])
    listing = subprocess.run([unsquashfs, "-l", str(squash)], capture_output=True, text=True, check=True).stdout
    for name in ("AppRun", "llama-wrangler.desktop", "usr/lib/llama-wrangler/llama-wrangler"):
        assert f"squashfs-root/{name}" in listing
