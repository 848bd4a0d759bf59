"""Shared fixtures. Each test gets its own app home (LLAMA_WRANGLER_HOME) so nothing touches the user's files."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# Qt and QtWebEngine settings for a machine with no screen and running as root. Test-only: user code
# paths never set these.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "0")

from llama_wrangler.paths import HOME_ENV, AppPaths

RUNTIME_ENV = "LLAMA_WRANGLER_TEST_RUNTIME"


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv(HOME_ENV, str(home))
    # The app looks for other apps' models (Hugging Face cache, Ollama, LM Studio) under the user's home
    # on its first run: give each test an empty one of its own.
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    for variable in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "OLLAMA_MODELS", "XDG_DATA_HOME"):
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def app_paths(app_home: Path) -> AppPaths:
    return AppPaths.under(app_home).ensure()


@pytest.fixture(scope="session")
def runtime_dir() -> Iterator[Path]:
    """The pinned llama.cpp runtime built by scripts/dev.py (tests/support/ci_cache.py).

    Tests that need it fail loudly when it is missing: a missing runtime is a broken test setup, not a
    reason to skip.
    """
    value = os.environ.get(RUNTIME_ENV)
    if not value or not Path(value).is_dir():
        pytest.fail(f"{RUNTIME_ENV} must name the built llama.cpp runtime (run the tests via "
                    "`python3 scripts/dev.py test`).")
    yield Path(value)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]
