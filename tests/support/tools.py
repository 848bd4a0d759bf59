"""Programs some tests need from the machine (cmake, setpriv...).

Locally a missing tool skips the tests that need it, with the reason. Under CI (``CI=true``, set by
GitHub Actions and most CI services) it fails them instead: there a missing tool is a broken setup, and a
skip would quietly stop testing what the tool is for.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

CI_ENV = "CI"


def under_ci() -> bool:
    return os.environ.get(CI_ENV, "").strip().lower() == "true"


def require_tool(name: str, why: str) -> str:
    """The path of the program ``name``, or skip (locally) / fail (under CI) saying it is missing."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: {why}"
    if under_ci():
        pytest.fail(f"{message} (the CI machine must provide it)", pytrace=False)
    pytest.skip(message)


def tool_fixture(name: str, why: str) -> Callable[[], str]:
    """An autouse fixture that applies :func:`require_tool` to every test of a module; assign it to a
    module-level name (``cmake = tool_fixture("cmake", "...")``). Each test then skips or fails on its
    own, where a failure at import would stop the whole run."""

    @pytest.fixture(autouse=True, name=f"{name}_tool")
    def required_tool() -> str:
        return require_tool(name, why)

    return required_tool
