"""Desktop integration on Linux (freedesktop.org): a ``.desktop`` entry and the app icon under the user's
XDG data folder, so the app appears in the menu — for pip / venv installs (``llama-wrangler desktop
install``) and inside the app bundle (``scripts/bundle``). Qt-free.

Files written (``$XDG_DATA_HOME``, else ``~/.local/share``)::

    applications/llama-wrangler.desktop
    icons/hicolor/scalable/apps/llama-wrangler.svg
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from llama_wrangler import APP_ID, APP_NAME
from llama_wrangler.atomic import write_bytes_atomic
from llama_wrangler.errors import WranglerError

DESKTOP_FILE = f"{APP_ID}.desktop"
COMMENT = "Find, download, convert and serve local LLMs with llama.cpp"
CATEGORIES = "Development;"
KEYWORDS = "LLM;AI;llama;GGUF;chat;model;server;"
# Characters that must be escaped inside a quoted Exec argument (Desktop Entry spec, "The Exec key").
_EXEC_ESCAPED = ('\\', '"', "`", "$")
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class DesktopError(WranglerError):
    """The desktop entry could not be written or removed."""


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME`` (when absolute, as the spec requires), else ``~/.local/share``."""
    env = os.environ if environ is None else environ
    value = env.get("XDG_DATA_HOME", "")
    if value and Path(value).is_absolute():
        return Path(value)
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "share"


def quote_exec_arg(arg: str) -> str:
    """One argument of an ``Exec=`` line, quoted when it holds a reserved character. A literal ``%`` is
    doubled (field codes start with ``%``)."""
    arg = arg.replace("%", "%%")
    if arg and not any(char in _EXEC_RESERVED for char in arg):
        return arg
    for char in _EXEC_ESCAPED:
        arg = arg.replace(char, "\\" + char)
    return f'"{arg}"'


def exec_line(argv: Sequence[str]) -> str:
    return " ".join(quote_exec_arg(arg) for arg in argv)


def desktop_entry(argv: Sequence[str], *, icon: str = APP_ID, try_exec: str | None = None) -> str:
    """The text of the ``.desktop`` file that starts ``argv``. The value of ``Exec`` is also escaped for
    the key-file format (a backslash doubled), per the spec."""
    if not argv:
        raise ValueError("argv must name the program to start")
    exec_value = exec_line(argv).replace("\\", "\\\\")
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        f"Name={APP_NAME}",
        "GenericName=Local LLM manager",
        f"Comment={COMMENT}",
        f"Exec={exec_value}",
        f"Icon={icon}",
        "Terminal=false",
        f"Categories={CATEGORIES}",
        f"Keywords={KEYWORDS}",
        f"StartupWMClass={APP_ID}",
        "StartupNotify=true",
    ]
    if try_exec:
        lines.insert(lines.index(f"Exec={exec_value}") + 1, f"TryExec={try_exec}")
    return "\n".join(lines) + "\n"


def entry_paths(home: Path) -> tuple[Path, Path]:
    """(the .desktop file, the icon) under the data folder ``home``."""
    return (home / "applications" / DESKTOP_FILE,
            home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg")


def install_entry(argv: Sequence[str], icon_svg: Path, *, home: Path) -> list[Path]:
    """Write the desktop entry and icon under ``home``; returns the files written (replacing ours)."""
    desktop, icon = entry_paths(home)
    try:
        write_bytes_atomic(icon, icon_svg.read_bytes())
        write_bytes_atomic(desktop, desktop_entry(argv).encode("utf-8"))
    except OSError as exc:
        raise DesktopError(f"Could not write the desktop entry: {exc.strerror or exc} ({exc.filename}).") from exc
    return [desktop, icon]


def uninstall_entry(*, home: Path) -> list[Path]:
    """Remove what :func:`install_entry` wrote; returns the files removed (none when not installed)."""
    removed = []
    for path in entry_paths(home):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DesktopError(f"Could not remove {path}: {exc.strerror or exc}.") from exc
        removed.append(path)
    return removed
