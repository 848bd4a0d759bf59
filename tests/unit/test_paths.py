"""App paths: LLAMA_WRANGLER_HOME moves everything, nothing is created until asked, confined() refuses escapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_wrangler.errors import UnsafePathError
from llama_wrangler.paths import HOME_ENV, AppPaths, confined


def test_home_variable_moves_every_directory(tmp_path: Path) -> None:
    paths = AppPaths.from_environment({HOME_ENV: str(tmp_path / "home")})
    root = (tmp_path / "home").resolve()
    for folder in (paths.data_dir, paths.cache_dir, paths.log_dir, paths.config_dir):
        assert folder == root or root in folder.parents
    assert paths.models_dir == root / "models"
    assert paths.registry_file == root / "registry.json"
    assert paths.settings_file == root / "settings.json"
    assert paths.downloads_dir.is_relative_to(root)


def test_environment_is_read_when_called(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "first"))
    first = AppPaths.from_environment()
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "second"))
    second = AppPaths.from_environment()
    assert first.data_dir != second.data_dir
    assert second.data_dir == (tmp_path / "second").resolve()


def test_without_home_variable_uses_platform_dirs(tmp_path: Path) -> None:
    paths = AppPaths.from_environment({})
    assert "llama-wrangler" in str(paths.data_dir)
    assert paths.data_dir != paths.cache_dir


def test_nothing_is_created_until_ensure(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path / "home")
    assert not (tmp_path / "home").exists()
    paths.ensure()
    for folder in (paths.data_dir, paths.cache_dir, paths.log_dir, paths.models_dir, paths.downloads_dir):
        assert folder.is_dir()


def test_confined_accepts_plain_relative_names(tmp_path: Path) -> None:
    assert confined(tmp_path, "a/b/model.gguf") == (tmp_path / "a" / "b" / "model.gguf").resolve()
    assert confined(tmp_path, "sub\\file.gguf") == (tmp_path / "sub" / "file.gguf").resolve()


@pytest.mark.parametrize("name", [
    "../escape.gguf", "a/../../escape", "/etc/passwd", "C:\\Windows\\x", "c:evil", "\\\\server\\share",
    "", "a\x00b", "..",
])
def test_confined_refuses_escapes(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePathError):
        confined(tmp_path, name)


def test_confined_refuses_a_symlink_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError):
        confined(root, "link/outside.gguf")
