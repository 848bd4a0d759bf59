"""Find the llama.cpp runtime the app should use.

A *runtime dir* has this layout (the contract every other package codes against)::

    <root>/bin/llama-server[.exe]       <root>/bin/llama-quantize[.exe]
    <root>/tools/convert_hf_to_gguf.py  (with conversion/ and gguf-py/ beside it)
    <root>/venv/                        the conversion interpreter
    <root>/manifest.json                version, commit, backend, build flags

:func:`runtime_from_dir` only looks at files (no subprocess), so it is cheap enough for the GUI thread;
:func:`locate_runtime` walks the search order (settings, our runtime dir, PATH, Homebrew).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime import pyserver
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.settings import Settings

MANIFEST_NAME = "manifest.json"
HOMEBREW_BIN_DIRS = (Path("/opt/homebrew/bin"), Path("/usr/local/bin"))


def exe_name(name: str, *, windows: bool | None = None) -> str:
    """``llama-server`` -> ``llama-server.exe`` on Windows."""
    is_windows = (os.name == "nt") if windows is None else windows
    return f"{name}.exe" if is_windows else name


def venv_python(venv: Path, *, windows: bool | None = None) -> Path:
    is_windows = (os.name == "nt") if windows is None else windows
    return venv / "Scripts" / "python.exe" if is_windows else venv / "bin" / "python"


def read_manifest(root: Path) -> dict[str, Any]:
    """The runtime dir's manifest, or {} when it has none or it is unreadable (a hand-made dir)."""
    try:
        data = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def runtime_from_dir(root: Path) -> LlamaRuntime:
    """Describe the runtime in ``root`` from its files alone (no subprocess).

    Only ``bin/llama-server`` is required; a missing quantizer or conversion toolchain shows up as None
    so the caller can say what is missing when it is needed.
    """
    root = Path(root)
    if not root.is_dir():
        raise LlamaRuntimeError(f"The llama.cpp runtime folder {root} does not exist.")
    server = root / "bin" / exe_name("llama-server")
    if not _is_executable(server):
        raise LlamaRuntimeError(
            f"The llama.cpp runtime in {root} has no runnable bin/{exe_name('llama-server')}.",
            hint="Run `llama-wrangler runtime install` to build or install it.")
    quantize = root / "bin" / exe_name("llama-quantize")
    script = root / "tools" / "convert_hf_to_gguf.py"
    python = venv_python(root / "venv")
    manifest = read_manifest(root)
    build = manifest.get("build_number")
    commit = manifest.get("commit")
    backend = manifest.get("backend")
    return LlamaRuntime(
        root=root,
        server=server,
        quantize=quantize if _is_executable(quantize) else None,
        convert_script=script if script.is_file() else None,
        convert_python=python if python.exists() else None,
        build_number=build if isinstance(build, int) and not isinstance(build, bool) else None,
        commit=commit if isinstance(commit, str) and commit else None,
        backend=backend if isinstance(backend, str) and backend else "unknown",
        rpc_server=find_rpc_server(root / "bin"),
    )


# The pinned tree builds ``ggml-rpc-server``; older trees (and some packagers) call it ``rpc-server``.
RPC_SERVER_NAMES = ("ggml-rpc-server", "rpc-server")


def find_rpc_server(folder: Path) -> Path | None:
    """The RPC worker binary in ``folder`` (beside llama-server), if there is one."""
    for name in RPC_SERVER_NAMES:
        candidate = folder / exe_name(name)
        if _is_executable(candidate):
            return candidate
    return None


def runtime_from_binary(server: Path) -> LlamaRuntime:
    """A bare ``llama-server`` (settings path, PATH, Homebrew): quantize is looked for beside it.

    A binary inside a runtime dir (``<root>/bin/llama-server`` with a manifest or conversion tools beside
    ``bin/``) is that whole runtime, so pointing the settings at it keeps conversion working.
    """
    if not _is_executable(server):
        raise LlamaRuntimeError(f"{server} is not a runnable llama-server binary.")
    root = server.parent.parent
    if server.parent.name == "bin" and ((root / "manifest.json").is_file()
                                        or (root / "tools" / "convert_hf_to_gguf.py").is_file()):
        return runtime_from_dir(root)
    quantize = server.with_name(exe_name("llama-quantize"))
    return LlamaRuntime(root=None, server=server, quantize=quantize if _is_executable(quantize) else None,
                        convert_script=None, convert_python=None, build_number=None, commit=None,
                        backend="unknown", rpc_server=find_rpc_server(server.parent))


def installed_runtime_dirs(runtime_root: Path, preferred_backend: str | None = None) -> list[Path]:
    """Runtime dirs under ``runtime_root`` that have a server binary, best first: the pinned version,
    then the preferred backend (the settings' forced one), then any GPU build before a CPU one."""
    from llama_wrangler.runtime.pinned import PINNED  # local: pinned is a leaf, keep import order simple

    if not runtime_root.is_dir():
        return []
    found = [child for child in runtime_root.iterdir()
             if child.is_dir() and not child.name.startswith(".")
             and _is_executable(child / "bin" / exe_name("llama-server"))]

    def rank(folder: Path) -> tuple[bool, bool, bool, str]:
        backend = folder.name.rsplit("-", 1)[-1]
        return (not folder.name.startswith(f"{PINNED.tag}-"),
                preferred_backend is not None and backend != preferred_backend, backend == "cpu", folder.name)

    return sorted(found, key=rank)


def candidate_servers(settings: Settings, paths: AppPaths, *,
                      which: Callable[[str], str | None] = shutil.which,
                      homebrew_dirs: Iterable[Path] = HOMEBREW_BIN_DIRS,
                      windows: bool | None = None) -> list[tuple[str, Path]]:
    """The search order, as (where, path) pairs: settings, our runtime dirs, PATH, Homebrew.

    Pure apart from looking at the file system, so tests can pass a fake ``which``.
    """
    is_windows = (os.name == "nt") if windows is None else windows
    name = exe_name("llama-server", windows=is_windows)
    candidates: list[tuple[str, Path]] = []
    if settings.runtime.llama_server_path is not None:
        candidates.append(("settings", Path(settings.runtime.llama_server_path).expanduser()))
    forced = settings.runtime.backend.value if settings.runtime.backend.value != "auto" else None
    for folder in installed_runtime_dirs(paths.runtime_root, forced):
        candidates.append(("app", folder / "bin" / name))
    on_path = which(name)
    if on_path:
        candidates.append(("path", Path(on_path)))
    if sys.platform == "darwin" or not is_windows:
        for folder in homebrew_dirs:
            candidates.append(("homebrew", folder / name))
    return candidates


@dataclass(frozen=True)
class Found:
    """A located runtime and where it was found: 'settings', 'app', 'path', 'homebrew' or 'python'."""

    where: str
    runtime: LlamaRuntime


def find_runtime(settings: Settings, paths: AppPaths, *,
                 which: Callable[[str], str | None] = shutil.which,
                 homebrew_dirs: Iterable[Path] = HOMEBREW_BIN_DIRS,
                 allow_pyserver: bool = True) -> Found:
    """:func:`locate_runtime`, also saying where the runtime was found (for ``runtime status``)."""
    brew = tuple(homebrew_dirs)
    tried: list[str] = []
    for where, server in candidate_servers(settings, paths, which=which, homebrew_dirs=brew):
        if where == "settings":
            if not _is_executable(server):
                raise LlamaRuntimeError(
                    f"The llama-server set in the settings ({server}) does not exist or is not executable.",
                    hint="Fix runtime.llama_server_path or clear it to use the app's own runtime.")
            return Found(where, runtime_from_binary(server))
        if where == "app":
            return Found(where, runtime_from_dir(server.parent.parent))
        if _is_executable(server):
            return Found(where, runtime_from_binary(server))
        tried.append(str(server))
    if allow_pyserver and pyserver.pyserver_available():
        return Found("python", pyserver.pyserver_runtime())
    places = [str(paths.runtime_root), "PATH"]
    places += sorted({str(Path(t).parent) for t in tried if Path(t).parent in brew})
    raise LlamaRuntimeError(f"No llama.cpp runtime found (looked in {', '.join(places)}).",
                            hint="Run `llama-wrangler runtime install` to build or install one.")


def locate_runtime(settings: Settings, paths: AppPaths, *,
                   which: Callable[[str], str | None] = shutil.which,
                   homebrew_dirs: Iterable[Path] = HOMEBREW_BIN_DIRS,
                   allow_pyserver: bool = True) -> LlamaRuntime:
    """The first usable runtime in search order: settings path, our runtime dir, PATH, Homebrew.

    A settings path that does not work is an error on its own (the user asked for that binary), not a
    reason to silently use another one. Last resort: llama-cpp-python's server
    (``backend == "llama-cpp-python"``) when it is installed; see :mod:`llama_wrangler.runtime.pyserver`.
    This only looks at files; :func:`llama_wrangler.runtime.verify.verify_runtime` runs the binary and
    checks its version. Raises :class:`LlamaRuntimeError` saying what was tried.
    """
    return find_runtime(settings, paths, which=which, homebrew_dirs=homebrew_dirs,
                        allow_pyserver=allow_pyserver).runtime
