"""Settings: defaults, round trip, and every kind of bad file kept aside with a message naming the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_wrangler.errors import SettingsError
from llama_wrangler.settings import (
    SCHEMA_VERSION,
    ImportMode,
    Settings,
    load_settings,
    save_settings,
)


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "settings.json")
    assert loaded.problem is None and loaded.kept_aside is None
    settings = loaded.settings
    assert settings.schema_version == SCHEMA_VERSION
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8080
    assert settings.library.import_mode is ImportMode.COPY
    assert settings.downloads.default_quant == "Q4_K_M"


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings()
    settings.server.port = 9000
    settings.library.import_mode = ImportMode.LINK
    settings.server.extra_args = "--flash-attn --mlock"
    save_settings(path, settings)
    loaded = load_settings(path)
    assert loaded.problem is None
    assert loaded.settings == settings
    assert loaded.settings.server.extra_arg_list() == ["--flash-attn", "--mlock"]
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_partial_file_fills_in_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"server": {"port": 8123}}))
    loaded = load_settings(path)
    assert loaded.problem is None
    assert loaded.settings.server.port == 8123
    assert loaded.settings.server.context_size == 4096


def kept_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob("settings.json.bad-*"))


def test_corrupt_json_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"server": {"port": 80')
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.problem is not None and "not valid JSON" in loaded.problem
    assert loaded.kept_aside is not None and loaded.kept_aside.name.startswith("settings.json.bad-")
    assert kept_aside(path) == [loaded.kept_aside]
    assert loaded.kept_aside.read_text() == '{"server": {"port": 80'
    assert not path.exists()
    assert loaded.kept_aside.name in loaded.problem


@pytest.mark.parametrize(("content", "field"), [
    ({"server": {"port": 70000}}, "server.port"),
    ({"server": {"extra_args": "--port 9"}}, "server.extra_args"),
    ({"server": {"extra_args": "'unclosed"}}, "server.extra_args"),
    ({"downloads": {"default_quant": "Q9_Z"}}, "downloads.default_quant"),
    ({"library": {"import_mode": "teleport"}}, "library.import_mode"),
    ({"ui": {"unknown_option": 1}}, "ui.unknown_option"),
])
def test_invalid_field_is_named(tmp_path: Path, content: dict[str, object], field: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(content))
    loaded = load_settings(path)
    assert loaded.problem is not None
    assert field in loaded.problem
    assert loaded.settings == Settings()
    assert len(kept_aside(path)) == 1


def test_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("[1, 2]")
    loaded = load_settings(path)
    assert loaded.problem is not None and "JSON object" in loaded.problem


def test_newer_schema_is_kept_aside_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "server": {"port": 1234}}))
    loaded = load_settings(path)
    assert loaded.problem is not None and "newer version" in loaded.problem
    assert loaded.settings.server.port == 8080
    assert len(kept_aside(path)) == 1


def test_two_bad_files_in_the_same_second_both_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{")
    load_settings(path)
    path.write_text("{{")
    load_settings(path)
    assert sorted(p.read_text() for p in kept_aside(path)) == ["{", "{{"]


def test_assignment_is_validated() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="port"):
        settings.server.port = 0


def test_save_failure_is_a_settings_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match="Could not save settings"):
        save_settings(blocker / "settings.json", Settings())
