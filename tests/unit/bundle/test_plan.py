"""What goes into the app bundle on each OS (scripts/bundle/plan.py), checked without building."""

from __future__ import annotations

import pytest
from scripts.bundle.plan import (
    Target,
    bundle_icon,
    excluded_modules,
    icon_sizes,
    info_plist,
    keep_file,
    output_layout,
    windowed,
)

LINUX = Target("linux", "x86_64")
MAC = Target("darwin", "arm64")
WINDOWS = Target("windows", "x86_64")


@pytest.mark.parametrize(("platform", "machine", "expected"), [
    ("linux", "x86_64", LINUX), ("darwin", "arm64", MAC), ("win32", "AMD64", WINDOWS),
    ("linux", "aarch64", Target("linux", "arm64")),
])
def test_target_of_the_running_system(platform: str, machine: str, expected: Target) -> None:
    assert Target.of(platform, machine) == expected


def test_unused_qt_modules_are_excluded_and_the_used_ones_kept() -> None:
    excluded = excluded_modules()
    for unused in ("PySide6.Qt3DCore", "PySide6.QtMultimedia", "PySide6.QtQuick3D", "PySide6.QtCharts", "tkinter"):
        assert unused in excluded
    for used in ("PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineCore", "PySide6.QtWidgets", "PySide6.QtSvg",
                 "PySide6.QtNetwork", "PySide6.QtCore", "PySide6.QtGui"):
        assert used not in excluded


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/lib/libQt6WebEngineCore.so.6",
    "PySide6/Qt/libexec/QtWebEngineProcess",
    "PySide6/Qt/resources/qtwebengine_resources.pak",
    "PySide6/Qt/resources/icudtl.dat",
    "PySide6/Qt/translations/qtwebengine_locales/en-US.pak",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/Qt/lib/libQt6Quick.so.6",  # QtWebEngineCore links it
    "PySide6/Qt/lib/libQt6QuickWidgets.so.6",  # QtWebEngineWidgets links it
    "PySide6\\Qt6WebEngineCore.dll",
    "llama_wrangler/resources/app-icon.svg",
])
def test_what_qtwebengine_and_the_window_need_is_kept(dest: str) -> None:
    assert keep_file(dest)


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/translations/qtwebengine_locales/de.pak",
    "PySide6/Qt/translations/qtbase_de.qm",
    "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
    "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so",
    "PySide6/Qt/plugins/sceneparsers/libgltfsceneimport.so",
    "PySide6/Qt/qml/QtQuick/Controls/libqtquickcontrols2plugin.so",
    "PySide6/Qt/lib/libQt63DCore.so.6",
    "PySide6/Qt/lib/libQt6Multimedia.so.6",
    "PySide6/Qt/lib/libQt6Pdf.so.6",
    "PySide6/Qt/lib/libQt6Quick3D.so.6",
    "PySide6/Qt/lib/libQt6WebEngineQuick.so.6",
])
def test_what_the_app_cannot_use_is_pruned(dest: str) -> None:
    assert not keep_file(dest)


def test_icon_sizes_per_os() -> None:
    assert 512 in icon_sizes(LINUX) and 256 in icon_sizes(LINUX)
    assert icon_sizes(MAC)[-1] == 1024, "macOS wants 512@2x"
    assert max(icon_sizes(WINDOWS)) == 256, ".ico entries stop at 256"
    assert bundle_icon(MAC).endswith(".icns") and bundle_icon(WINDOWS).endswith(".ico")
    assert bundle_icon(LINUX) == "", "Linux icons come from the .desktop entry, not the executable"


def test_output_layout_per_os() -> None:
    assert output_layout(LINUX)["executable"] == "llama-wrangler/llama-wrangler"
    assert output_layout(LINUX)["installer"] == "Llama_Wrangler-x86_64.AppImage"
    assert output_layout(MAC)["executable"] == "Llama Wrangler.app/Contents/MacOS/llama-wrangler"
    assert output_layout(MAC)["installer"].endswith("-arm64.dmg")
    assert output_layout(WINDOWS)["executable"] == "llama-wrangler/llama-wrangler.exe"
    assert output_layout(WINDOWS)["installer"] == "llama-wrangler-setup-x86_64.exe"


def test_gui_subsystem_only_where_the_os_has_one() -> None:
    assert windowed(MAC) and windowed(WINDOWS) and not windowed(LINUX)


def test_info_plist_names_the_app_and_version() -> None:
    plist = info_plist("1.2.3")
    assert plist["CFBundleShortVersionString"] == "1.2.3"
    assert plist["CFBundleName"] == "Llama Wrangler"
    assert plist["NSHighResolutionCapable"] is True
