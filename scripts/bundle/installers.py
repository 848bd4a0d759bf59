"""Installer recipes for the OSes this project cannot build on (no macOS or Windows machine here): the dmg
command for macOS and the Inno Setup script for Windows. ``scripts/package.py`` runs them when it runs on
that OS and the tool is installed; the unit tests check what they would run."""

from __future__ import annotations

from pathlib import Path

from scripts.bundle.plan import APP_ID, APP_NAME, BUNDLE_ID, Target, output_layout


def dmg_command(target: Target, dist: Path) -> list[str]:
    """``hdiutil`` (part of macOS) making a compressed disk image of the .app."""
    layout = output_layout(target)
    return ["hdiutil", "create", "-volname", APP_NAME, "-srcfolder", str(dist / layout["app"]), "-ov",
            "-format", "UDZO", str(dist / layout["installer"])]


def inno_setup_script(target: Target, dist: Path, version: str, icon: Path) -> str:
    """An Inno Setup 6 script that installs the PyInstaller folder per user (no admin rights), with a
    Start-menu entry and an uninstaller. Compile with ``iscc`` (``winget install JRSoftware.InnoSetup``)."""
    layout = output_layout(target)
    source = dist / layout["app"]
    setup_name = Path(layout["installer"]).stem
    arch = "x64compatible" if target.arch == "x86_64" else "arm64"
    return "\n".join([
        "[Setup]",
        f"AppId={BUNDLE_ID}",
        f"AppName={APP_NAME}",
        f"AppVersion={version}",
        f"DefaultDirName={{localappdata}}\\Programs\\{APP_NAME}",
        f"DefaultGroupName={APP_NAME}",
        "PrivilegesRequired=lowest",
        f"ArchitecturesAllowed={arch}",
        f"ArchitecturesInstallIn64BitMode={arch}",
        f"OutputDir={dist}",
        f"OutputBaseFilename={setup_name}",
        f"SetupIconFile={icon}",
        f"UninstallDisplayIcon={{app}}\\{APP_ID}.exe",
        "Compression=lzma2/max",
        "SolidCompression=yes",
        "WizardStyle=modern",
        "",
        "[Files]",
        f'Source: "{source}\\*"; DestDir: "{{app}}"; Flags: recursesubdirs ignoreversion',
        "",
        "[Icons]",
        f'Name: "{{group}}\\{APP_NAME}"; Filename: "{{app}}\\{APP_ID}.exe"',
        f'Name: "{{userdesktop}}\\{APP_NAME}"; Filename: "{{app}}\\{APP_ID}.exe"; Tasks: desktopicon',
        "",
        "[Tasks]",
        'Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked',
        "",
        "[Run]",
        f'Filename: "{{app}}\\{APP_ID}.exe"; Description: "Start {APP_NAME}"; Flags: nowait postinstall skipifsilent',
        "",
    ])


def inno_command(script: Path) -> list[str]:
    return ["iscc", str(script)]
