"""What goes into the Llama Wrangler app bundle on each OS, as plain data and pure functions, so the
decisions are unit-tested on any machine (tests/unit/bundle/) and the PyInstaller spec only applies them.

- Python modules the app never imports are excluded (Qt's other add-ons, test tools, Tk).
- Files PyInstaller's Qt hooks collect that the app cannot use are pruned by path: QML, Qt Quick and
  3D libraries pulled in as plugins, translations other than English, QtWebEngine's locale packs other
  than en-US, debug files. What QtWebEngine itself needs (QtWebEngineProcess, its resources, ICU data)
  is kept.
- No llama.cpp binary is bundled: the first-run Install button fetches the pinned one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

APP_NAME = "Llama Wrangler"
APP_ID = "llama-wrangler"
BUNDLE_ID = "app.llamawrangler.LlamaWrangler"  # macOS CFBundleIdentifier; Windows AppUserModelID
SIZE_BUDGET_MB = 300

# The Qt modules the app uses: widgets, SVG icons, the network stack QtWebEngine needs, and QtWebEngine.
QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtSvg", "QtNetwork", "QtWebEngineCore", "QtWebEngineWidgets",
              "QtWebChannel")
UNUSED_QT_MODULES = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender", "QtAxContainer",
    "QtBluetooth", "QtCanvasPainter", "QtCharts", "QtConcurrent", "QtDataVisualization", "QtDesigner",
    "QtGraphs", "QtGraphsWidgets", "QtHelp", "QtHttpServer", "QtLocation", "QtMultimedia",
    "QtMultimediaWidgets", "QtNetworkAuth", "QtNfc", "QtOpenGLWidgets", "QtPdf", "QtPdfWidgets",
    "QtQml", "QtQuick", "QtQuick3D", "QtQuickControls2", "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects",
    "QtScxml", "QtSensors", "QtSerialBus", "QtSerialPort", "QtSpatialAudio", "QtSql", "QtStateMachine",
    "QtSvgWidgets", "QtTest", "QtTextToSpeech", "QtUiTools", "QtWebEngineQuick", "QtWebSockets", "QtWebView",
    "QtXml",
)
UNUSED_PYTHON_MODULES = ("tkinter", "_tkinter", "pytest", "_pytest", "pytestqt", "mypy", "ruff", "gguf",
                         "numpy", "sentencepiece", "safetensors", "torch", "IPython", "setuptools", "pip",
                         # huggingface_hub's Xet transfers: the app downloads through its own transfer layer,
                         # with Xet off. (aiohttp stays: the stable endpoint is built on it.)
                         "hf_xet")

# Qt plugin folders worth keeping (relative to PySide6/Qt/plugins): window systems, image formats for
# icons, the TLS backends QtNetwork loads, and the input/theme plugins a Linux desktop uses.
KEPT_PLUGIN_DIRS = ("platforms", "platformthemes", "platforminputcontexts", "imageformats", "iconengines",
                    "tls", "xcbglintegrations", "wayland-decoration-client", "wayland-graphics-integration-client",
                    "wayland-shell-integration", "egldeviceintegrations", "generic", "styles", "networkinformation")
# Libraries no kept module links to, which PyInstaller's hooks may still pull in through plugins.
PRUNED_LIBRARY = re.compile(
    r"libQt6(3D|Bluetooth|CanvasPainter|Charts|DataVisualization|Designer|Graphs|Help|HttpServer|Labs|Location|"
    r"Lottie|Multimedia|FFmpeg|NetworkAuth|Nfc|Pdf|Quick3D|QuickControls2|QuickDialogs|QuickEffects|QuickLayouts|"
    r"QuickParticles|QuickShapes|QuickTemplates|QuickTest|QuickTimeline|QuickVectorImage|RemoteObjects|Scxml|"
    r"Sensors|SerialBus|SerialPort|ShaderTools|SpatialAudio|Sql|StateMachine|Test|TextToSpeech|UiTools|"
    r"VirtualKeyboard|WebEngineQuick|WebSockets|WebView|Xml|Svg?Widgets)")
# Only read when Chromium's developer tools are opened, which the app never offers.
PRUNED_FILES = frozenset({"qtwebengine_devtools_resources.pak"})
_LOCALE_PAK = re.compile(r"qtwebengine_locales/(?P<name>[^/]+)\.pak$")
_TRANSLATION = re.compile(r"translations/(?P<name>[^/]+)\.qm$")
KEPT_LOCALES = frozenset({"en-US"})


@dataclass(frozen=True)
class Target:
    """The OS a bundle is for: 'linux', 'darwin' or 'windows', and its CPU ('x86_64', 'arm64')."""

    system: str
    arch: str

    @classmethod
    def of(cls, platform: str, machine: str) -> Target:
        system = "windows" if platform.startswith("win") else "linux" if platform.startswith("linux") else platform
        lowered = machine.lower()
        arch = "x86_64" if lowered in {"amd64", "x86_64", "x64"} else "arm64" if lowered in {"arm64", "aarch64"} \
            else lowered
        return cls(system, arch)


def excluded_modules() -> list[str]:
    """Python modules PyInstaller must leave out (``Analysis(excludes=...)``)."""
    return [f"PySide6.{name}" for name in UNUSED_QT_MODULES] + list(UNUSED_PYTHON_MODULES)


def keep_file(dest: str) -> bool:
    """Whether a collected file (its path inside the bundle, '/'-separated) belongs in the bundle."""
    path = dest.replace("\\", "/")
    name = path.rsplit("/", 1)[-1]
    if name.endswith((".debug", ".pdb", ".dSYM", ".prl")) or "/qml/" in f"/{path}":
        return False
    if PRUNED_LIBRARY.search(name) or name in PRUNED_FILES:
        return False
    locale = _LOCALE_PAK.search(path)
    if locale:
        return locale.group("name") in KEPT_LOCALES
    translation = _TRANSLATION.search(path)
    if translation:
        # English needs no Qt translation; QtWebEngine's own en-US.pak above carries its strings.
        return False
    if "/plugins/" in f"/{path}":
        after = path.split("plugins/", 1)[1]
        folder = after.split("/", 1)[0]
        return folder in KEPT_PLUGIN_DIRS
    return True


def icon_sizes(target: Target) -> tuple[int, ...]:
    """PNG sizes each OS wants: the hicolor theme's sizes on Linux, the .icns set on macOS (16-1024, @2x
    included), the .ico set on Windows (16-256)."""
    if target.system == "darwin":
        return (16, 32, 64, 128, 256, 512, 1024)
    if target.system == "windows":
        return (16, 24, 32, 48, 64, 128, 256)
    return (16, 24, 32, 48, 64, 128, 256, 512)


def bundle_icon(target: Target) -> str:
    """The icon file PyInstaller puts on the executable / app (built by scripts/bundle/icons.py)."""
    return {"darwin": "llama-wrangler.icns", "windows": "llama-wrangler.ico"}.get(target.system, "")


def output_layout(target: Target) -> dict[str, str]:
    """What the build leaves in ``dist/`` (paths relative to it)."""
    if target.system == "darwin":
        return {"app": f"{APP_NAME}.app", "executable": f"{APP_NAME}.app/Contents/MacOS/{APP_ID}",
                "installer": f"{APP_ID}-{target.arch}.dmg"}
    if target.system == "windows":
        return {"app": APP_ID, "executable": f"{APP_ID}/{APP_ID}.exe",
                "installer": f"{APP_ID}-setup-{target.arch}.exe"}
    return {"app": APP_ID, "executable": f"{APP_ID}/{APP_ID}", "installer": f"{APP_NAME.replace(' ', '_')}"
            f"-{target.arch}.AppImage"}


def strip_binaries(target: Target) -> bool:
    """Strip debug symbols from the collected libraries (libpython ships with them: 22 MB -> 4 MB) on
    Linux. Not on macOS, where stripping a signed library invalidates its signature, nor on Windows, which
    has no ``strip``."""
    return target.system == "linux"


def windowed(target: Target) -> bool:
    """Whether the executable is a GUI program (no console window): yes on macOS and Windows. On Linux
    there is no such distinction, and the same executable also runs the command line."""
    return target.system in {"darwin", "windows"}


def info_plist(version: str) -> dict[str, object]:
    """macOS Info.plist entries beyond what PyInstaller writes."""
    return {"CFBundleName": APP_NAME, "CFBundleDisplayName": APP_NAME, "CFBundleShortVersionString": version,
            "CFBundleVersion": version, "NSHighResolutionCapable": True, "LSMinimumSystemVersion": "12.0",
            "NSRequiresAquaSystemAppearance": False}
