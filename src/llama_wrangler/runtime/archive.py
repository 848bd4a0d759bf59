"""Unpack .tar.gz / .zip archives from outside without letting them write outside their folder.

Rejected: absolute names, ``..`` components, drive letters, links (sdists and release zips have none we
need), device files, and anything that resolves outside the target.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from llama_wrangler.errors import LlamaRuntimeError, UnsafePathError
from llama_wrangler.paths import confined
from llama_wrangler.progress import CancelToken


def _checked(root: Path, name: str, archive: Path) -> Path:
    try:
        return confined(root, name)
    except UnsafePathError as exc:
        raise UnsafePathError(f"The archive {archive.name} is unsafe: {exc}") from exc


def unpack(archive: Path, dest: Path, *, cancel: CancelToken | None = None) -> Path:
    """Unpack ``archive`` (.zip, .tar.gz, .tgz, .tar) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            _unzip(archive, dest, cancel)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            _untar(archive, dest, cancel)
        else:
            raise LlamaRuntimeError(f"Don't know how to unpack {archive.name} (expected .zip or .tar.gz).")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise LlamaRuntimeError(f"The archive {archive.name} is damaged: {exc}.") from exc
    return dest


def _untar(archive: Path, dest: Path, cancel: CancelToken | None) -> None:
    with tarfile.open(archive, "r:*") as tar:
        for member in _members(tar):
            if cancel is not None:
                cancel.raise_if_cancelled()
            target = _checked(dest, member.name, archive)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
                # Keep only the executable bits; never setuid/setgid from an archive.
                target.chmod(0o755 if member.mode & 0o111 else 0o644)
            elif member.issym():
                _symlink_inside(dest, target, member, archive)
            elif member.islnk():
                raise UnsafePathError(f"The archive {archive.name} contains a hard link ({member.name}).")
            else:
                raise UnsafePathError(f"The archive {archive.name} contains a special file ({member.name}).")


def _symlink_inside(dest: Path, target: Path, member: tarfile.TarInfo, archive: Path) -> None:
    """Source archives may hold a few relative symlinks; keep those that stay inside ``dest``."""
    link = member.linkname
    if not link or Path(link).is_absolute() or "\\" in link:
        raise UnsafePathError(f"The archive {archive.name} has a link pointing outside it ({member.name}).")
    resolved = (target.parent / link).resolve()
    base = dest.resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafePathError(f"The archive {archive.name} has a link pointing outside it ({member.name}).")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        raise UnsafePathError(f"The archive {archive.name} repeats the entry {member.name}.")
    target.symlink_to(link)


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    # pax global headers are metadata, not entries.
    for member in tar:
        if member.type in (tarfile.XGLTYPE, tarfile.XHDTYPE):
            continue
        yield member


def _unzip(archive: Path, dest: Path, cancel: CancelToken | None) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if cancel is not None:
                cancel.raise_if_cancelled()
            target = _checked(dest, info.filename, archive)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafePathError(f"The archive {archive.name} contains a link ({info.filename}); refused.")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
            target.chmod(0o755 if mode & 0o111 else 0o644)


def single_top_dir(folder: Path) -> Path:
    """Archives usually hold one top folder (``llama.cpp-b1234/``); return it, or ``folder`` itself."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder
