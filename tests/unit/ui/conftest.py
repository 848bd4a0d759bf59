"""Fixtures for the window tests: a full app session against a temporary app home."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication

from llama_wrangler.app import WranglerApp
from llama_wrangler.paths import AppPaths
from tests.support.gui import app_session


@pytest.fixture
def wrangler(qapp: QApplication, app_paths: AppPaths) -> Iterator[WranglerApp]:
    yield from app_session(qapp, app_paths)
