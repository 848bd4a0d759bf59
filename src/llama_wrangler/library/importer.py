"""Importing GGUF files into the library: copy, move, hardlink, or link in place (like ``lms import``).

Everything is validated before anything changes: a non-GGUF, broken or incomplete split file refuses the
whole import with the reason. Names never overwrite: a clash gets ``-1``, ``-2``... A copy is written under
a hidden temporary name and only then given its final name, so a partial copy never looks like a model.
A move is a link-or-copy followed by deleting the source once the library has the new file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llama_wrangler.errors import DiskSpaceError, GGUFError, ModelImportError
from llama_wrangler.library.gguf import GGUFInfo, read_gguf_set
from llama_wrangler.library.origins import ImportOrigin, ModelSource
from llama_wrangler.library.projectors import PROJECTOR_ARCHITECTURES
from llama_wrangler.library.records import absolute, inside
from llama_wrangler.library.shards import group_shards, model_stem, shard_parts
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.settings import ImportMode
from llama_wrangler.units import human_bytes

if TYPE_CHECKING:
    from llama_wrangler.library.registry import Library, ModelRecord

COPY_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ImportItem:
    files: tuple[Path, ...]  # shard 1 first
    info: GGUFInfo

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def plan_import(library: Library, paths: Sequence[Path]) -> list[ImportItem]:
    """Validate every file; raise :class:`ModelImportError` with the reason before anything changes.

    Files named explicitly that are already in the library are an error; files found inside a folder
    that are already in the library are skipped.
    """
    if not paths:
        raise ModelImportError("Nothing to import: name at least one GGUF file or folder.")
    groups: list[tuple[Path, ...]] = []
    for raw in paths:
        path = absolute(Path(raw).expanduser())
        if path.is_dir():
            groups.extend(_folder_models(library, path))
        elif path.is_file():
            files = group_shards([path])[0]
            known = library.find_by_path(files[0])
            if known is not None:
                raise ModelImportError(f"{path.name} is already in the library as {known.id}.")
            groups.append(files)
        else:
            raise ModelImportError(f"{raw} does not exist.")
    items: list[ImportItem] = []
    seen: set[tuple[Path, ...]] = set()
    for files in groups:
        if files in seen:
            continue
        seen.add(files)
        try:
            info = read_gguf_set(files)
        except GGUFError as exc:
            raise ModelImportError(f"Not imported: {exc}") from exc
        if info.architecture in PROJECTOR_ARCHITECTURES:
            if len(groups) > 1:
                continue  # a folder's projector: it is paired with its model, not a model itself
            raise ModelImportError(f"{files[0].name} is a vision projector, not a model.",
                                   hint="Put it beside its model's .gguf and import the model: they are paired.")
        items.append(ImportItem(files, info))
    return items


def _folder_models(library: Library, folder: Path) -> list[tuple[Path, ...]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".gguf" and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise ModelImportError(f"There are no .gguf files in {folder}.")
    models = [g for g in group_shards(files) if library.find_by_path(g[0]) is None]
    if not models:
        raise ModelImportError(f"Every model in {folder} is already in the library.")
    return models


def import_models(library: Library, paths: Sequence[Path], mode: ImportMode, *,
                  progress: ProgressCallback = ignore_progress,
                  cancel: CancelToken | None = None) -> list[ModelRecord]:
    items = plan_import(library, paths)
    mode = ImportMode(mode)
    models_dir = library.models_dir
    if mode != ImportMode.LINK:
        models_dir.mkdir(parents=True, exist_ok=True)
    if mode == ImportMode.COPY:
        _check_space(models_dir, sum(i.size for i in items if not inside(i.files[0], models_dir)))
    records = []
    for item in items:
        if cancel is not None:
            cancel.raise_if_cancelled()
        records.append(_import_one(library, item, mode, progress, cancel))
    return records


def _import_one(library: Library, item: ImportItem, mode: ImportMode, progress: ProgressCallback,
                cancel: CancelToken | None) -> ModelRecord:
    models_dir = library.models_dir
    name = model_stem(item.files[0])
    origin = ImportOrigin(imported_from=str(item.files[0]), mode=mode)
    if mode == ImportMode.LINK or inside(item.files[0], models_dir):
        # In place. A file already inside our models folder is ours whatever the mode.
        owned = inside(item.files[0], models_dir)
        return library.register(item.files, source=ModelSource.IMPORT, owned=owned, origin=origin, name=name,
                                info=item.info)
    targets = _free_names(models_dir, item.files)
    placed: list[Path] = []
    try:
        for source, target in zip(item.files, targets, strict=True):
            if mode == ImportMode.COPY:
                _copy(source, target, progress, cancel)
            elif mode == ImportMode.HARDLINK:
                _hardlink(source, target, copy_hint=True)
            else:  # move: a link when on the same filesystem, else a copy; the source goes last
                try:
                    _hardlink(source, target, copy_hint=False)
                except _CrossDeviceError:
                    _copy(source, target, progress, cancel)
            placed.append(target)
        record = library.register(tuple(placed), source=ModelSource.IMPORT, owned=True, origin=origin, name=name,
                                  info=item.info)
    except BaseException:
        for target in placed:
            with contextlib.suppress(OSError):
                target.unlink()
        raise
    if mode == ImportMode.MOVE:
        for source in item.files:
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
    return record


def _free_names(folder: Path, files: tuple[Path, ...]) -> list[Path]:
    """Target names in ``folder`` that exist nowhere yet (``name-1.gguf``... on a clash). A split set
    keeps its shard pattern (``name-1-00001-of-00003.gguf``) so llama.cpp still finds the siblings."""
    parts = [shard_parts(f) for f in files]
    for counter in range(10_000):
        suffix = f"-{counter}" if counter else ""
        names = []
        for file, part in zip(files, parts, strict=True):
            if part is None:
                names.append(f"{model_stem(file)}{suffix}.gguf")  # always .gguf: rescans look for it
            else:
                stem, number, count = part
                names.append(f"{stem}{suffix}-{number:05d}-of-{count:05d}.gguf")
        targets = [folder / n for n in names]
        if not any(t.exists() or t.is_symlink() for t in targets):
            return targets
    raise ModelImportError(f"Could not find a free file name for {files[0].name} in {folder}.")


class _CrossDeviceError(Exception):
    pass


def _hardlink(source: Path, target: Path, *, copy_hint: bool) -> None:
    try:
        os.link(source, target)  # fails rather than overwrite if the name was taken meanwhile
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            if not copy_hint:
                raise _CrossDeviceError() from exc
            raise ModelImportError(
                f"Cannot hardlink {source.name}: it is on a different drive or filesystem than the models "
                f"folder {target.parent}.", hint="Import with --mode copy (or --mode link to use it in place)."
            ) from exc
        if exc.errno == errno.EEXIST:
            raise ModelImportError(f"{target} appeared while importing; nothing was overwritten.") from exc
        if not copy_hint and exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise _CrossDeviceError() from exc  # a filesystem without hardlinks: move by copying
        raise ModelImportError(f"Cannot hardlink {source.name} into {target.parent}: "
                               f"{exc.strerror or exc}.") from exc


def _copy(source: Path, target: Path, progress: ProgressCallback, cancel: CancelToken | None) -> None:
    temp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    total = source.stat().st_size
    done = 0
    try:
        with source.open("rb") as src, temp.open("xb") as dst:
            while block := src.read(COPY_BLOCK):
                dst.write(block)
                done += len(block)
                progress(Progress("importing", done, total, source.name))
                if cancel is not None:
                    cancel.raise_if_cancelled()
            dst.flush()
            os.fsync(dst.fileno())
        shutil.copystat(source, temp)
        _claim(temp, target)
    except OSError as exc:
        raise ModelImportError(f"Copying {source.name} failed: {exc.strerror or exc}.") from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _claim(temp: Path, target: Path) -> None:
    """Give ``temp`` the name ``target`` without ever replacing an existing file."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise ModelImportError(f"{target} appeared while importing; nothing was overwritten.") from None
    except OSError:
        if target.exists():
            raise ModelImportError(f"{target} appeared while importing; nothing was overwritten.") from None
        temp.rename(target)  # filesystems without hardlinks


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DiskSpaceError(f"Not enough space in {folder}: the import needs {human_bytes(needed)}, "
                             f"{human_bytes(free)} are free.")
