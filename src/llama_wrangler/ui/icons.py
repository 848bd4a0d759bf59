"""Icons from the package's ``resources/`` folder (SVG), tinted to the theme's text colour.

Paths are relative to the installed package, so they work from a wheel as well as from the source tree.
Monochrome icons are drawn with ``#000`` in the SVG; :func:`tinted_icon` swaps that for a colour.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QColor, QIcon, QPixmap

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> Path:
    return RESOURCES / name


def icon(name: str) -> QIcon:
    """A full-colour icon (``app-icon``, ``tray-icon``, ``state-ready``...)."""
    return QIcon(str(resource_path(f"{name}.svg")))


@functools.cache
def _svg_text(name: str) -> str:
    """An SVG's source, read from disk once: the views tint their icons again on every refresh."""
    return resource_path(f"{name}.svg").read_text(encoding="utf-8")


def tinted_icon(name: str, color: QColor | str, *, size: int = 48) -> QIcon:
    """A monochrome icon drawn in ``color``."""
    hex_color = QColor(color).name()
    svg = _svg_text(name).replace("#000", hex_color)
    pixmap = QPixmap(size, size)
    pixmap.loadFromData(QByteArray(svg.encode("utf-8")), "SVG")
    return QIcon(pixmap)

