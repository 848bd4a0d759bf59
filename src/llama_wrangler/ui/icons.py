"""Icons from the package's ``resources/`` folder (SVG), tinted to the theme's text colour.

Paths are relative to the installed package, so they work from a wheel as well as from the source tree.
Monochrome icons are drawn with ``#000`` in the SVG; :func:`tinted_icon` swaps that for a colour.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QColor, QIcon, QPixmap

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> Path:
    return RESOURCES / name


def icon(name: str) -> QIcon:
    """A full-colour icon (``app-icon``, ``tray-icon``, ``state-ready``...)."""
    return QIcon(str(resource_path(f"{name}.svg")))


def tinted_icon(name: str, color: QColor | str, *, size: int = 48) -> QIcon:
    """A monochrome icon drawn in ``color``."""
    hex_color = QColor(color).name()
    svg = resource_path(f"{name}.svg").read_text(encoding="utf-8").replace("#000", hex_color)
    pixmap = QPixmap(size, size)
    pixmap.loadFromData(QByteArray(svg.encode("utf-8")), "SVG")
    return QIcon(pixmap)


def state_icon_name(state: str) -> str:
    """The state-dot resource for a server state (see ``server.state.ServerState``)."""
    if state == "ready":
        return "state-ready"
    if state in {"starting", "loading", "stopping"}:
        return "state-busy"
    if state == "crashed":
        return "state-crashed"
    return "state-stopped"
