"""Where the app keeps its files.

The default locations follow the platform (platformdirs); ``LLAMA_WRANGLER_HOME`` moves *all* of them under
one folder (tests and portable installs use it). Nothing is read from the environment at import time:
call :meth:`AppPaths.from_environment` when the app starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from llama_wrangler import APP_ID
from llama_wrangler.errors import UnsafePathError

HOME_ENV = "LLAMA_WRANGLER_HOME"


@dataclass(frozen=True)
class AppPaths:
    """The app's directories. Properties never create anything; :meth:`ensure` does."""

    data_dir: Path
    cache_dir: Path
    log_dir: Path
    config_dir: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AppPaths:
        env = os.environ if environ is None else environ
        home = env.get(HOME_ENV)
        if home:
            root = Path(home).expanduser().resolve()
            return cls(data_dir=root, cache_dir=root / "cache", log_dir=root / "logs", config_dir=root)
        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_ID, appauthor=False)),
            cache_dir=Path(platformdirs.user_cache_dir(APP_ID, appauthor=False)),
            log_dir=Path(platformdirs.user_log_dir(APP_ID, appauthor=False)),
            config_dir=Path(platformdirs.user_config_dir(APP_ID, appauthor=False)),
        )

    @classmethod
    def under(cls, root: Path) -> AppPaths:
        """All directories under ``root`` (what ``LLAMA_WRANGLER_HOME`` does)."""
        return cls.from_environment({HOME_ENV: str(root)})

    # Files and folders inside the data dir (see docs/ARCHITECTURE.md "Files on disk").
    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def registry_file(self) -> Path:
        return self.data_dir / "registry.json"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def runtime_root(self) -> Path:
        return self.data_dir / "llama.cpp"

    @property
    def downloads_dir(self) -> Path:
        return self.cache_dir / "downloads"

    @property
    def convert_dir(self) -> Path:
        return self.cache_dir / "convert"

    @property
    def jobs_file(self) -> Path:
        return self.data_dir / "jobs.json"

    @property
    def app_log_file(self) -> Path:
        return self.log_dir / "llama-wrangler.log"

    @property
    def server_log_file(self) -> Path:
        return self.log_dir / "llama-server.log"

    @property
    def worker_log_file(self) -> Path:
        return self.log_dir / "rpc-server.log"

    def ensure(self) -> AppPaths:
        """Create every directory the app writes to (first use)."""
        for folder in (self.data_dir, self.cache_dir, self.log_dir, self.config_dir, self.models_dir,
                       self.downloads_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def confined(root: Path, relative: str) -> Path:
    """Join an untrusted relative path (a repo file name, a manifest entry) onto ``root``.

    Refuses absolute paths, drive letters, ``..`` components and anything that resolves outside ``root``.
    """
    if not relative or "\x00" in relative:
        raise UnsafePathError(f"Refused an empty or malformed file name: {relative!r}.")
    normalised = relative.replace("\\", "/")
    parts = normalised.split("/")
    if normalised.startswith("/") or (len(parts[0]) >= 2 and parts[0][1] == ":") or ".." in parts:
        raise UnsafePathError(f"Refused the file name {relative!r}: it points outside its folder.")
    target = (root / normalised).resolve()
    base = root.resolve()
    if target != base and base not in target.parents:
        raise UnsafePathError(f"Refused the file name {relative!r}: it points outside its folder.")
    return target
