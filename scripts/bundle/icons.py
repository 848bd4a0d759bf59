"""The app icon at the sizes each OS wants, rendered from the one SVG source
(``src/llama_wrangler/resources/app-icon.svg``): PNGs for the Linux hicolor theme and the AppImage, a
multi-size ``.ico`` for Windows and an ``.icns`` for macOS. Both containers hold PNG images, which every
supported OS version reads (Windows Vista+, macOS 10.7+); they are written here rather than with an
extra tool so the build needs nothing beyond Qt.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path

# .icns entry types holding PNG data, by pixel size (the @2x types reuse the larger renderings).
ICNS_TYPES: tuple[tuple[bytes, int], ...] = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256), (b"ic09", 512),
    (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256), (b"ic14", 512),
)


def render_pngs(svg: Path, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """PNG bytes of ``svg`` at each size (square, transparent background). Needs a Qt GUI application
    (the offscreen platform is enough)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        raise RuntimeError("render_pngs needs a QGuiApplication")
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    out: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        out[size] = bytes(data.data())
    return out


def ico_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A Windows .ico with one PNG entry per size (sizes up to 256)."""
    sizes = sorted(s for s in pngs if s <= 256)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    directory = b""
    images = b""
    for size in sizes:
        data = pngs[size]
        side = 0 if size == 256 else size  # 0 means 256 in an ICONDIRENTRY
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        images += data
        offset += len(data)
    return header + directory + images


def icns_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A macOS .icns with the PNG entry types for the sizes given."""
    body = b""
    for kind, size in ICNS_TYPES:
        if size in pngs:
            data = pngs[size]
            body += kind + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def write_icons(svg: Path, folder: Path, sizes: tuple[int, ...]) -> dict[str, Path]:
    """Render ``svg`` into ``folder``: ``<size>.png`` for each size, plus the .ico and .icns files.
    Returns the written files by name."""
    folder.mkdir(parents=True, exist_ok=True)
    all_sizes = tuple(sorted(set(sizes) | {16, 32, 64, 128, 256, 512, 1024}))
    pngs = render_pngs(svg, all_sizes)
    written: dict[str, Path] = {}
    for size in sizes:
        path = folder / f"{size}.png"
        path.write_bytes(pngs[size])
        written[path.name] = path
    for name, data in (("llama-wrangler.ico", ico_bytes(pngs)), ("llama-wrangler.icns", icns_bytes(pngs))):
        path = folder / name
        path.write_bytes(data)
        written[name] = path
    return written
