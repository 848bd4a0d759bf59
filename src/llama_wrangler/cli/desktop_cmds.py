"""``desktop install`` / ``desktop uninstall``: put Llama Wrangler in the desktop's application menu (Linux,
freedesktop.org), for pip / venv installs. The app bundle's AppImage carries its own entry."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from llama_wrangler.cli.context import CliContext
from llama_wrangler.desktop import data_home, install_entry, uninstall_entry
from llama_wrangler.errors import WranglerError

ICON_SVG = Path(__file__).resolve().parent.parent / "resources" / "app-icon.svg"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    desktop = subparsers.add_parser("desktop", help="add Llama Wrangler to the desktop's application menu (Linux)")
    sub = desktop.add_subparsers(dest="desktop_command", metavar="ACTION", required=True)
    install = sub.add_parser("install", help="write a .desktop entry and icon under ~/.local/share "
                             "($XDG_DATA_HOME) that start this installation")
    install.set_defaults(handler=install_command)
    uninstall = sub.add_parser("uninstall", help="remove that entry and icon")
    uninstall.set_defaults(handler=uninstall_command)


def _check_platform() -> None:
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise WranglerError("Desktop entries are a Linux (freedesktop.org) feature; on macOS and Windows use "
                            "the app bundle (see the README).")


def launch_argv() -> list[str]:
    """How the menu starts this installation: its own Python running the package (a venv keeps working
    without being activated)."""
    return [sys.executable, "-m", "llama_wrangler"]


def install_command(_args: argparse.Namespace, _context: CliContext) -> int:
    _check_platform()
    written = install_entry(launch_argv(), ICON_SVG, home=data_home())
    for path in written:
        print(f"wrote {path}")
    print("Llama Wrangler is in the application menu now (some desktops show it after logging in again).")
    return 0


def uninstall_command(_args: argparse.Namespace, _context: CliContext) -> int:
    _check_platform()
    removed = uninstall_entry(home=data_home())
    for path in removed:
        print(f"removed {path}")
    if not removed:
        print("No desktop entry was installed.")
    return 0
