"""The macOS dmg and Windows installer recipes (what they would run on those OSes)."""

from __future__ import annotations

from pathlib import Path

from scripts.bundle.installers import dmg_command, inno_command, inno_setup_script
from scripts.bundle.plan import Target


def test_dmg_command_packs_the_app_bundle() -> None:
    argv = dmg_command(Target("darwin", "arm64"), Path("/d"))
    assert argv[:2] == ["hdiutil", "create"]
    assert argv[argv.index("-srcfolder") + 1] == "/d/Llama Wrangler.app"
    assert argv[argv.index("-format") + 1] == "UDZO"
    assert argv[-1] == "/d/llama-wrangler-arm64.dmg"


def test_inno_setup_script_installs_per_user_with_a_start_menu_entry() -> None:
    script = inno_setup_script(Target("windows", "x86_64"), Path("C:/dist"), "0.1.0", Path("C:/icons/app.ico"))
    lines = script.splitlines()
    assert "PrivilegesRequired=lowest" in lines, "no admin rights needed"
    assert "AppVersion=0.1.0" in lines
    assert "ArchitecturesAllowed=x64compatible" in lines
    assert "OutputBaseFilename=llama-wrangler-setup-x86_64" in lines
    assert any(line.startswith("SetupIconFile=") and line.endswith("app.ico") for line in lines)
    assert any(line.startswith('Source: "') and "llama-wrangler\\*" in line and "recursesubdirs" in line
               for line in lines)
    assert any(line.startswith('Name: "{group}\\Llama Wrangler"') for line in lines)
    assert inno_command(Path("x.iss")) == ["iscc", "x.iss"]


def test_inno_setup_script_for_arm64() -> None:
    assert "ArchitecturesAllowed=arm64" in inno_setup_script(
        Target("windows", "arm64"), Path("d"), "1", Path("i.ico")).splitlines()
