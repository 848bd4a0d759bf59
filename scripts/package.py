#!/usr/bin/env python3
"""Build the Llama Wrangler app bundle for this OS with PyInstaller (``pip install -e .[package]`` first).

    python scripts/package.py [--dist dist] [--appimage-runtime FILE] [--json report.json]

- Linux: ``dist/llama-wrangler/`` (a folder; run ``dist/llama-wrangler/llama-wrangler``), an AppDir, and
  with ``--appimage-runtime`` (the AppImage project's static type-2 ``runtime-x86_64``) an AppImage.
- macOS: ``dist/Llama Wrangler.app`` and, with ``hdiutil``, a dmg.
- Windows: ``dist/llama-wrangler/llama-wrangler.exe`` and, with Inno Setup's ``iscc`` on PATH, an installer.

The bundle carries QtWebEngine and no llama.cpp binary (the first-run Install button fetches it). The
build prints its time and the unpacked size against the 300 MB budget.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from scripts.bundle.plan import SIZE_BUDGET_MB, Target, icon_sizes, output_layout  # noqa: E402

SPEC = ROOT / "scripts" / "bundle" / "llama-wrangler.spec"
SVG = ROOT / "src" / "llama_wrangler" / "resources" / "app-icon.svg"


def folder_size(path: Path) -> int:
    """Bytes of the files under ``path`` (symlinks not followed: a bundle's links are counted once)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def render_icons(folder: Path, target: Target) -> dict[str, Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication
    from scripts.bundle.icons import write_icons

    app = QGuiApplication.instance() or QGuiApplication([])
    try:
        return write_icons(SVG, folder, icon_sizes(target))
    finally:
        del app


def run_pyinstaller(dist: Path, work: Path, icon_dir: Path) -> None:
    env = dict(os.environ, LLAMA_WRANGLER_ICON_DIR=str(icon_dir))
    argv = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(dist),
            "--workpath", str(work / "pyinstaller"), str(SPEC)]
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, env=env, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bundle", help="scratch folder")
    parser.add_argument("--appimage-runtime", type=Path, help="AppImage type-2 runtime file (Linux)")
    parser.add_argument("--json", type=Path, help="write the build report (times, sizes, paths) here")
    args = parser.parse_args(argv)
    target = Target.of(sys.platform, platform.machine())
    dist: Path = args.dist.resolve()
    work: Path = args.work.resolve()
    layout = output_layout(target)
    started = time.monotonic()
    icons = render_icons(work / "icons", target)
    run_pyinstaller(dist, work, work / "icons")
    build_seconds = time.monotonic() - started
    app = dist / layout["app"]
    size = folder_size(app)
    report: dict[str, object] = {"target": f"{target.system}-{target.arch}", "bundle": str(app),
                                 "executable": str(dist / layout["executable"]), "size_bytes": size,
                                 "build_seconds": round(build_seconds, 1)}
    print(f"bundle: {app}\n  built in {build_seconds:.0f} s, {size / 1e6:.0f} MB unpacked "
          f"(budget {SIZE_BUDGET_MB} MB{', OVER' if size > SIZE_BUDGET_MB * 1e6 else ''})", flush=True)
    report["installer"] = make_installer(target, dist, work, app, icons, args.appimage_runtime)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def make_installer(target: Target, dist: Path, work: Path, app: Path, icons: dict[str, Path],
                   runtime: Path | None) -> str:
    """The OS's installable artefact when its tool is here; otherwise says what is missing."""
    from llama_wrangler import __version__

    layout = output_layout(target)
    if target.system == "linux":
        from scripts.bundle.linux import make_appdir, make_appimage

        pngs = {int(name.split(".")[0]): path for name, path in icons.items() if name.endswith(".png")}
        appdir = make_appdir(app, work / "AppDir", pngs)
        if runtime is None:
            print(f"  AppDir: {appdir}; no AppImage (pass --appimage-runtime, see the README)")
            return f"AppDir only: {appdir}"
        image = make_appimage(appdir, runtime, dist / layout["installer"], work)
        print(f"  AppImage: {image} ({image.stat().st_size / 1e6:.0f} MB)")
        return str(image)
    if target.system == "darwin":
        from scripts.bundle.installers import dmg_command

        if shutil.which("hdiutil") is None:
            return "no dmg: hdiutil is missing"
        subprocess.run(dmg_command(target, dist), check=True)
        return str(dist / layout["installer"])
    from scripts.bundle.installers import inno_command, inno_setup_script

    script = work / "llama-wrangler.iss"
    script.write_text(inno_setup_script(target, dist, __version__, icons["llama-wrangler.ico"]), encoding="utf-8")
    if shutil.which("iscc") is None:
        print(f"  Inno Setup script: {script} (install Inno Setup and run `iscc` on it for the installer)")
        return f"script only: {script}"
    subprocess.run(inno_command(script), check=True)
    return str(dist / layout["installer"])


if __name__ == "__main__":
    sys.exit(main())
