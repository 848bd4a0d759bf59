"""Programs some tests need from the machine (cmake, setpriv...).

Locally a missing tool skips the tests that need it, with the reason. Under CI (``CI=true``, set by
GitHub Actions and most CI services) it fails them instead: there a missing tool is a broken setup, and a
skip would quietly stop testing what the tool is for.
"""

from __future__ import annotations

import os
import shutil

import pytest

CI_ENV = "CI"


def under_ci() -> bool:
    return os.environ.get(CI_ENV, "").strip().lower() == "true"


def require_tool(name: str, why: str) -> str:
    """The path of the program ``name``, or skip (locally) / fail (under CI) saying it is missing.

    Callable inside a test or at module level (then it skips or fails the whole module)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: {why}"
    if under_ci():
        pytest.fail(f"{message} (the CI machine must provide it)", pytrace=False)
    pytest.skip(message, allow_module_level=True)
