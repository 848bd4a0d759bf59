"""Where the pinned llama.cpp source tree comes from.

(a) ``archive``: the official source archive of the pinned tag (URL overridable in settings), verified by
    content against :attr:`PinnedLlamaCpp.key_files` (its own sha256 is not knowable offline);
(b) ``pypi``: the llama-cpp-python sdist that vendors the same tree, verified by its pinned sha256;
(c) ``local``: a folder the user points at (checked for the files a build needs, and reported when it is
    not the pinned tree).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from llama_wrangler.errors import DownloadError, LlamaRuntimeError
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.runtime import fetch
from llama_wrangler.runtime.archive import single_top_dir, unpack
from llama_wrangler.runtime.pinned import PINNED, SDIST_TREE, PinnedLlamaCpp

PYPI_JSON_URL = "https://pypi.org/pypi/llama-cpp-python/{version}/json"
REQUIRED_FILES = ("CMakeLists.txt", "tools/server", "tools/quantize", "convert_hf_to_gguf.py", "gguf-py")


class SourceKind(StrEnum):
    ARCHIVE = "archive"
    PYPI = "pypi"
    LOCAL = "local"


@dataclass(frozen=True)
class SourceTree:
    """A llama.cpp source tree ready to build. ``pinned`` is False for a local tree that differs."""

    path: Path
    kind: SourceKind
    description: str
    pinned: bool


def check_tree(tree: Path) -> None:
    missing = [name for name in REQUIRED_FILES if not (tree / name).exists()]
    if missing:
        raise LlamaRuntimeError(f"{tree} is not a llama.cpp source tree (missing {', '.join(missing)}).")


def tree_matches_pin(tree: Path, pin: PinnedLlamaCpp = PINNED) -> list[str]:
    """Key files of ``tree`` that differ from the pinned tree (empty list = it is the pinned tree)."""
    differing = []
    for rel, expected in pin.key_files.items():
        path = tree / rel
        if not path.is_file() or fetch.sha256_file(path) != expected:
            differing.append(rel)
    return differing


def from_local(folder: Path) -> SourceTree:
    folder = folder.expanduser().resolve()
    if (folder / SDIST_TREE / "CMakeLists.txt").is_file():  # an unpacked llama-cpp-python sdist
        folder = folder / SDIST_TREE
    check_tree(folder)
    differing = tree_matches_pin(folder)
    note = "" if not differing else f" (not the pinned tree: {len(differing)} key files differ)"
    return SourceTree(folder, SourceKind.LOCAL, f"local folder {folder}{note}", pinned=not differing)


def from_archive(url: str, workdir: Path, *, progress: ProgressCallback = ignore_progress,
                 cancel: CancelToken | None = None, timeout: float | None = None) -> SourceTree:
    """Download and unpack the official source archive; verify it is the pinned tree by content."""
    archive = fetch.download(url, workdir / "llama.cpp-source.tar.gz", stage="download source",
                             progress=progress, cancel=cancel, timeout=timeout)
    progress(Progress("unpack", message=f"Unpacking {archive.name}"))
    unpacked = unpack(archive, workdir / "archive", cancel=cancel)
    tree = single_top_dir(unpacked)
    check_tree(tree)
    differing = tree_matches_pin(tree)
    if differing:
        raise LlamaRuntimeError(
            f"The source archive from {url} is not llama.cpp {PINNED.tag}: {', '.join(differing[:3])} "
            "differ from the pinned tree.", hint="Check runtime.source_archive_url in the settings.")
    return SourceTree(tree, SourceKind.ARCHIVE, f"official source archive {url}", pinned=True)


def from_pypi(workdir: Path, *, download_dir: Path | None = None, progress: ProgressCallback = ignore_progress,
              cancel: CancelToken | None = None, python: str | None = None) -> SourceTree:
    """The llama-cpp-python sdist (kept in ``download_dir`` for reuse), verified, unpacked into ``workdir``."""
    keep = download_dir or workdir
    sdist = keep / PINNED.sdist_filename
    if sdist.is_file() and fetch.sha256_file(sdist) != PINNED.sdist_sha256:
        sdist.unlink()  # a stale or damaged copy: fetch again
    if not sdist.is_file():
        _download_sdist(keep, progress=progress, cancel=cancel, python=python)
    if fetch.sha256_file(sdist) != PINNED.sdist_sha256:
        with contextlib.suppress(OSError):
            sdist.unlink()
        raise LlamaRuntimeError(
            f"{sdist.name} from PyPI does not match its pinned sha256; it was deleted and not used.")
    progress(Progress("unpack", message=f"Unpacking {sdist.name}"))
    unpacked = unpack(sdist, workdir / "sdist", cancel=cancel)
    tree = single_top_dir(unpacked) / SDIST_TREE
    check_tree(tree)
    return SourceTree(tree, SourceKind.PYPI,
                      f"PyPI sdist llama-cpp-python=={PINNED.llama_cpp_python_version} (vendor/llama.cpp)",
                      pinned=True)


def _download_sdist(dest: Path, *, progress: ProgressCallback, cancel: CancelToken | None,
                    python: str | None) -> None:
    """pip first (it honours the user's index, proxy and certificate settings), else PyPI's JSON API."""
    dest.mkdir(parents=True, exist_ok=True)
    interpreter = python or sys.executable
    spec = f"llama-cpp-python=={PINNED.llama_cpp_python_version}"
    if python is not None or importlib.util.find_spec("pip") is not None:
        progress(Progress("download source", message=f"pip download {spec}"))
        argv = [interpreter, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                "--disable-pip-version-check", "--dest", str(dest), spec]
        from llama_wrangler.runtime.process import run_cancellable  # local: avoids an import cycle

        code, output = run_cancellable(argv, cancel=cancel)
        if code == 0 and (dest / PINNED.sdist_filename).is_file():
            return
        tail = "\n".join(output.splitlines()[-5:])
        pip_error = f"pip download failed (exit {code}): {tail}"
    else:
        pip_error = "pip is not available"
    try:
        _download_sdist_json(dest, progress=progress, cancel=cancel)
    except DownloadError as exc:
        raise LlamaRuntimeError(f"Could not get {spec} from PyPI. {pip_error}; {exc}") from exc


def _download_sdist_json(dest: Path, *, progress: ProgressCallback, cancel: CancelToken | None) -> None:
    meta = fetch.get_json(PYPI_JSON_URL.format(version=PINNED.llama_cpp_python_version))
    urls = meta.get("urls", []) if isinstance(meta, dict) else []
    for entry in urls:
        if isinstance(entry, dict) and entry.get("filename") == PINNED.sdist_filename:
            fetch.download(str(entry["url"]), dest / PINNED.sdist_filename, sha256=PINNED.sdist_sha256,
                           stage="download source", progress=progress, cancel=cancel)
            return
    raise DownloadError(f"PyPI lists no {PINNED.sdist_filename}.")


def tree_digest(tree: Path) -> str:
    """A short digest of the key files, to tell a local tree's builds apart."""
    digest = hashlib.sha256()
    for rel in sorted(PINNED.key_files):
        path = tree / rel
        digest.update(rel.encode())
        digest.update(fetch.sha256_file(path).encode() if path.is_file() else b"-")
    return digest.hexdigest()[:12]
