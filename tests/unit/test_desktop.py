"""The freedesktop.org entry: its text, Exec quoting, and install / uninstall under XDG_DATA_HOME (a temp
folder), through the CLI as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llama_wrangler.desktop import data_home, desktop_entry, exec_line, install_entry, uninstall_entry
from tests.support.tools import under_ci

ROOT = Path(__file__).resolve().parents[2]
SVG = ROOT / "src" / "llama_wrangler" / "resources" / "app-icon.svg"


def test_data_home_follows_xdg() -> None:
    assert data_home({"XDG_DATA_HOME": "/x/share", "HOME": "/h"}) == Path("/x/share")
    assert data_home({"XDG_DATA_HOME": "relative/ignored", "HOME": "/h"}) == Path("/h/.local/share")
    assert data_home({"HOME": "/h"}) == Path("/h/.local/share")


def test_exec_quoting_follows_the_spec() -> None:
    assert exec_line(["/usr/bin/python3", "-m", "llama_wrangler"]) == "/usr/bin/python3 -m llama_wrangler"
    assert exec_line(["/home/a b/venv/bin/python"]) == '"/home/a b/venv/bin/python"'
    assert exec_line(['/odd"$`\\name']) == '"/odd\\"\\$\\`\\\\name"'
    assert exec_line(["/50%/python"]) == "/50%%/python", "a literal % is not a field code"


def test_entry_text() -> None:
    text = desktop_entry(["/opt/my env/python", "-m", "llama_wrangler"])
    lines = text.splitlines()
    assert lines[0] == "[Desktop Entry]"
    assert "Name=Llama Wrangler" in lines and "Type=Application" in lines and "Icon=llama-wrangler" in lines
    # The Exec value is quoted for the Exec rules, then its backslashes doubled for the key-file format.
    assert 'Exec="/opt/my env/python" -m llama_wrangler' in lines
    assert "StartupWMClass=llama-wrangler" in lines, "matches the app's QGuiApplication desktop file name"


def _validate(path: Path) -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        if under_ci():
            pytest.fail("desktop-file-validate (Debian's desktop-file-utils) is needed under CI")
        return
    out = subprocess.run([validator, str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "error" not in out.stdout.lower(), out.stdout + out.stderr


def test_install_and_uninstall_under_a_data_home(tmp_path: Path) -> None:
    home = tmp_path / "share"
    written = install_entry(["/usr/bin/python3", "-m", "llama_wrangler"], SVG, home=home)
    desktop, icon = written
    assert desktop == home / "applications" / "llama-wrangler.desktop"
    assert icon == home / "icons" / "hicolor" / "scalable" / "apps" / "llama-wrangler.svg"
    assert icon.read_bytes() == SVG.read_bytes()
    _validate(desktop)
    assert install_entry(["/usr/bin/python3"], SVG, home=home) == written, "installing again replaces ours"
    assert "Exec=/usr/bin/python3\n" in desktop.read_text()
    assert uninstall_entry(home=home) == written
    assert not desktop.exists() and not icon.exists()
    assert uninstall_entry(home=home) == [], "uninstalling twice is fine"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="desktop entries are a Linux feature")
def test_the_cli_installs_an_entry_that_starts_this_python(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "share"), LLAMA_WRANGLER_HOME=str(tmp_path / "app"),
               PYTHONPATH=str(ROOT / "src"))
    run = [sys.executable, "-m", "llama_wrangler", "desktop"]
    out = subprocess.run([*run, "install"], env=env, capture_output=True, text=True, check=True)
    desktop = tmp_path / "share" / "applications" / "llama-wrangler.desktop"
    assert f"wrote {desktop}" in out.stdout
    assert f"Exec={sys.executable} -m llama_wrangler" in desktop.read_text().splitlines()
    _validate(desktop)
    out = subprocess.run([*run, "uninstall"], env=env, capture_output=True, text=True, check=True)
    assert f"removed {desktop}" in out.stdout and not desktop.exists()
    out = subprocess.run([*run, "uninstall"], env=env, capture_output=True, text=True, check=True)
    assert "No desktop entry was installed." in out.stdout
