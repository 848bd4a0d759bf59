"""Icons at each OS's sizes from the one SVG: real PNGs, and .ico / .icns containers that hold them."""

from __future__ import annotations

import struct
from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from scripts.bundle.icons import icns_bytes, ico_bytes, render_pngs, write_icons

SVG = Path(__file__).resolve().parents[3] / "src" / "llama_wrangler" / "resources" / "app-icon.svg"


def test_pngs_are_rendered_at_each_size(qapp: QApplication) -> None:
    pngs = render_pngs(SVG, (16, 48, 256))
    for size, data in pngs.items():
        image = QImage.fromData(data, "PNG")
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        centre = image.pixelColor(size // 2, size // 2)
        assert centre.alpha() == 255, "the icon is drawn, not blank"


def test_ico_directory_points_at_each_png(qapp: QApplication) -> None:
    pngs = render_pngs(SVG, (16, 32, 256))
    data = ico_bytes(pngs)
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, 3)
    for index, size in enumerate((16, 32, 256)):
        width, height, _, _, _, bits, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        assert width == height == (0 if size == 256 else size)
        assert bits == 32
        assert data[offset:offset + length] == pngs[size]
    image = QImage.fromData(data, "ICO")
    assert not image.isNull(), "Qt's own ICO reader reads it"


def test_icns_holds_the_retina_sizes(qapp: QApplication) -> None:
    pngs = render_pngs(SVG, (16, 32, 64, 128, 256, 512, 1024))
    data = icns_bytes(pngs)
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    kinds = []
    offset = 8
    while offset < len(data):
        kind, length = data[offset:offset + 4], struct.unpack(">I", data[offset + 4:offset + 8])[0]
        assert data[offset + 8:offset + 16] == b"\x89PNG\r\n\x1a\n"
        kinds.append(kind)
        offset += length
    assert offset == len(data)
    assert {b"icp4", b"ic10", b"ic14"} <= set(kinds)
    assert not QImage.fromData(data, "ICNS").isNull(), "Qt's own ICNS reader reads it"


def test_write_icons(qapp: QApplication, tmp_path: Path) -> None:
    written = write_icons(SVG, tmp_path, (16, 512))
    assert set(written) == {"16.png", "512.png", "llama-wrangler.ico", "llama-wrangler.icns"}
    assert all(path.stat().st_size > 0 for path in written.values())
