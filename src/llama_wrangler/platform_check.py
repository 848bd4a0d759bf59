"""Explain, in plain words, why Qt cannot open a window — before Qt aborts the process.

On a minimal Linux install Qt's xcb plugin fails to load because a handful of small X11 libraries are
missing; Qt then prints "could not load the Qt platform plugin" and calls abort(). We probe the same
libraries with ``dlopen`` (cheap: no subprocess, no Qt) and name the Debian/Ubuntu packages to install.
Qt-free on purpose: it must run before QApplication exists.
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# Shared libraries Qt's xcb platform plugin loads, with the apt package that provides each.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
}


def _can_load(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def _local_display_socket(display: str) -> Path | None:
    """``:0`` / ``:1.0`` -> the X server's socket; None for remote displays (``host:0``), which we
    cannot check without connecting."""
    match = re.fullmatch(r":(\d+)(?:\.\d+)?", display)
    return Path(f"/tmp/.X11-unix/X{match.group(1)}") if match else None  # noqa: S108 (X11's fixed path)


def platform_problem(environ: Mapping[str, str], *, platform: str = sys.platform,
                     can_load: Callable[[str], bool] = _can_load,
                     exists: Callable[[Path], bool] = Path.exists) -> str | None:
    """A user-facing explanation of why no window can open, or None when things look fine."""
    if not platform.startswith("linux"):
        return None
    requested = environ.get("QT_QPA_PLATFORM", "")
    if requested and not requested.startswith("xcb"):
        return None  # offscreen, wayland, vnc...: not the xcb plugin's libraries
    if not requested and environ.get("WAYLAND_DISPLAY"):
        return None  # Qt prefers its Wayland plugin there
    if not environ.get("DISPLAY"):
        return ("Llama Wrangler cannot open its window: no graphical display was found (DISPLAY is not "
                "set). Run it from a desktop session, or use the command line: "
                "`llama-wrangler --help`.")
    missing = [package for soname, package in XCB_LIBRARIES.items() if not can_load(soname)]
    if not missing:
        socket = _local_display_socket(environ["DISPLAY"])
        if socket is not None and not exists(socket):
            return (f"Llama Wrangler cannot open its window: no X server is running on display "
                    f"{environ['DISPLAY']} (there is no {socket}). Start it from your desktop session.")
        return None
    return ("Llama Wrangler cannot open its window: Qt's X11 (xcb) support needs system libraries that "
            "are not installed.\nOn Debian or Ubuntu, install them with:\n\n"
            f"    sudo apt-get install {' '.join(missing)}\n\n"
            "Then start Llama Wrangler again. (The command line works without them: "
            "`llama-wrangler --help`.)")
