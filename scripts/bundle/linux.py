"""The Linux bundle's desktop parts: an AppDir around the PyInstaller folder (AppRun, the .desktop entry,
icons at the hicolor sizes) and the AppImage made from it.

An AppImage is a *type-2 runtime* (a small static ELF that mounts what follows it with its own FUSE code,
so libfuse2 need not be installed) followed by a squashfs image of the AppDir. We make the squashfs
with ``mksquashfs`` (Debian's squashfs-tools) and append it to the runtime ourselves; the runtime itself
is not packaged by PyPI or Debian, so it is passed in (``--appimage-runtime``, the ``runtime-x86_64`` file
of the AppImage project's type2-runtime releases). See the README's "App bundles" section.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from scripts.bundle.plan import APP_ID

from llama_wrangler.desktop import desktop_entry

APPIMAGE_MAGIC_OFFSET = 8
APPIMAGE_TYPE2_MAGIC = b"AI\x02"
ELF_MAGIC = b"\x7fELF"
APPRUN = """#!/bin/sh
# AppImage entry point: start the bundled app (the AppImage runtime sets APPDIR).
HERE="${APPDIR:-$(dirname "$(readlink -f "$0")")}"
exec "$HERE/usr/lib/llama-wrangler/llama-wrangler" "$@"
"""


def make_appdir(bundle: Path, appdir: Path, icons: dict[int, Path]) -> Path:
    """Lay out ``appdir`` from the PyInstaller folder ``bundle`` and the PNG ``icons`` by size."""
    if appdir.exists():
        shutil.rmtree(appdir)
    lib = appdir / "usr" / "lib" / APP_ID
    lib.parent.mkdir(parents=True)
    shutil.copytree(bundle, lib, symlinks=True)
    apprun = appdir / "AppRun"
    apprun.write_text(APPRUN, encoding="utf-8")
    apprun.chmod(0o755)
    entry = desktop_entry([APP_ID])
    (appdir / f"{APP_ID}.desktop").write_text(entry, encoding="utf-8")
    applications = appdir / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    (applications / f"{APP_ID}.desktop").write_text(entry, encoding="utf-8")
    for size, png in icons.items():
        target = appdir / "usr" / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)
    biggest = icons[max(s for s in icons if s <= 256)]
    shutil.copy2(biggest, appdir / f"{APP_ID}.png")
    (appdir / ".DirIcon").symlink_to(f"{APP_ID}.png")
    return appdir


def check_runtime(runtime: Path) -> None:
    """Refuse a file that is not an AppImage type-2 runtime (an ELF with "AI\\x02" at offset 8)."""
    head = runtime.read_bytes()[:16]
    if not head.startswith(ELF_MAGIC) or head[APPIMAGE_MAGIC_OFFSET:APPIMAGE_MAGIC_OFFSET + 3] != APPIMAGE_TYPE2_MAGIC:
        raise ValueError(f"{runtime} is not an AppImage type-2 runtime (no ELF header with the AI\\x02 magic).")


def squashfs_command(appdir: Path, image: Path) -> list[str]:
    """mksquashfs as the type-2 runtime reads it: zstd, root-owned files, no extended attributes."""
    return ["mksquashfs", str(appdir), str(image), "-root-owned", "-noappend", "-comp", "zstd", "-no-xattrs",
            "-quiet"]


def make_appimage(appdir: Path, runtime: Path, output: Path, work: Path) -> Path:
    """Squash ``appdir`` and append it to ``runtime``: the AppImage ``output`` (executable)."""
    check_runtime(runtime)
    if shutil.which("mksquashfs") is None:
        raise RuntimeError("mksquashfs is needed to make the AppImage (Debian/Ubuntu: apt install squashfs-tools).")
    image = work / f"{APP_ID}.squashfs"
    image.unlink(missing_ok=True)
    subprocess.run(squashfs_command(appdir, image), check=True)
    with output.open("wb") as out:
        out.write(runtime.read_bytes())
        with image.open("rb") as squash:
            shutil.copyfileobj(squash, out, 1 << 20)
    output.chmod(0o755)
    image.unlink()
    return output
