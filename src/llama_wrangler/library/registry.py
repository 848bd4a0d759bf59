"""The model library: ``registry.json`` of every model we know, owned or linked in place.

Qt-free and thread-safe (one re-entrant lock around all state): downloads and conversions finish on
worker threads and call :meth:`Library.add_owned`; the GUI listens through :meth:`Library.subscribe`
(callbacks run on whichever thread made the change — the GUI re-emits them as a Qt signal).

Writes are atomic. A registry another process (the CLI beside the GUI) changed is re-read before we
change it, so the two do not overwrite each other's work.

Background hashes are saved in batches, not one registry write per file (a write costs tens of ms with
hundreds of models): when the hasher's queue drains, at most every ``hash_save_interval_s`` while it
works through a long queue, with any other change, and on :meth:`Library.close`. Until then they live in
memory (queries see them at once); a crash loses only those, and they are hashed again next time.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llama_wrangler.atomic import move_aside, write_bytes_atomic
from llama_wrangler.errors import (
    GGUFError,
    ModelImportError,
    ModelNotFoundError,
    RegistryError,
)
from llama_wrangler.library.filelock import locked
from llama_wrangler.library.gguf import INFO_VERSION, GGUFInfo, read_gguf_set
from llama_wrangler.library.hashing import BackgroundHasher, sha256_file
from llama_wrangler.library.records import (
    FileStat,
    ModelRecord,
    ScanReport,
    absolute,
    make_id,
    now_iso,
    stat_files,
)
from llama_wrangler.library.shards import group_shards, model_stem
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.settings import ImportMode

__all__ = ["Library", "ModelRecord", "ScanReport"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
HASH_SAVE_INTERVAL_S = 2.0


@dataclass(frozen=True)
class _Hashed:
    """A hash computed for a record's files as they were (paths and size+mtime) when it was read."""

    paths: tuple[Path, ...]
    stats: tuple[FileStat, ...]
    hashes: tuple[str, ...]


class Library:
    """Every model we know. Call :meth:`load` once before use."""

    def __init__(self, paths: AppPaths, *, models_dir: Path | None = None,
                 hash_in_background: bool = True,
                 hash_save_interval_s: float = HASH_SAVE_INTERVAL_S) -> None:
        self.paths = paths
        self.models_dir = models_dir or paths.models_dir
        self.problem: str | None = None  # set by load() when the registry had to be rebuilt
        self._lock = threading.RLock()
        self._records: dict[str, ModelRecord] = {}
        self._ignored: set[str] = set()  # owned files the user removed but kept: rescans skip them
        self._file_stat: FileStat | None = None
        self._flock_depth = 0
        self._listeners: list[Callable[[], None]] = []
        self._hash_in_background = hash_in_background
        self._hash_save_interval_s = hash_save_interval_s
        self._unsaved_hashes: dict[str, _Hashed] = {}  # by record id; cleared by every save
        self._last_save = time.monotonic()
        self._hasher = BackgroundHasher(on_idle=self._save_hashes)

    # ---- loading and saving -------------------------------------------------------------------------

    def load(self, *, hash_now: bool = True) -> Library:
        """Read the registry. With background hashing on, unhashed models are queued unless
        ``hash_now`` is False (the app calls :meth:`start_hashing` once its window is up)."""
        with self._exclusive():
            self._read_registry()
        if self._hash_in_background and hash_now:
            self.start_hashing()
        return self

    def _read_registry(self) -> None:
        path = self.paths.registry_file
        try:
            raw_text = path.read_bytes()
        except FileNotFoundError:
            self._records, self._ignored, self._file_stat = {}, set(), None
            return
        except OSError as exc:
            raise RegistryError(f"Cannot read the model registry {path}: {exc.strerror or exc}.") from exc
        try:
            raw: Any = json.loads(raw_text)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            version = raw.get("schema_version")
            if isinstance(version, int) and version > SCHEMA_VERSION:
                raise RegistryError(f"The model registry {path} was written by a newer version of Llama "
                                    f"Wrangler (schema {version}); this version reads schema "
                                    f"{SCHEMA_VERSION}. Update the app.")
            records = [ModelRecord.from_dict(item) for item in raw["models"]]
            ignored = {str(p) for p in raw.get("ignored", [])}
        except RegistryError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._rebuild(path, exc)
            return
        self._records = {r.id: r for r in records}
        self._ignored = ignored
        self._file_stat = _stat_of(path)
        self._apply_hashes()  # another process saved: our unsaved hashes are not in what we just read
        info_version = raw.get("info_version")
        if not isinstance(info_version, int) or info_version < INFO_VERSION:
            self._refresh_infos()

    def _refresh_infos(self) -> None:
        """Re-read every present model's header (a registry from an older reader); save once."""
        for record in list(self._records.values()):
            try:
                info = read_gguf_set(record.paths)
            except GGUFError:
                continue  # gone or broken: the next rescan reports it
            self._records[record.id] = replace(record, info=info)
        self._save()

    def _rebuild(self, path: Path, exc: Exception) -> None:
        try:
            aside = move_aside(path)
        except OSError as err:
            raise RegistryError(f"The model registry {path} is unreadable ({exc}) and could not be moved "
                                f"aside: {err.strerror or err}.") from err
        self._records, self._ignored, self._file_stat = {}, set(), None
        report = self.rescan()
        self.problem = (f"The model registry was unreadable ({type(exc).__name__}: {exc}); it was kept as "
                        f"{aside.name} and rebuilt from the models folder ({len(report.added)} models "
                        "found). Models linked in place from elsewhere are not in the rebuilt library: "
                        "import them again.")
        log.warning(self.problem)

    def _save(self) -> None:
        # One model per line, each through json's C encoder: ``indent=`` would switch json to its
        # pure-Python encoder, which made saving a 1,000-model registry take seconds.
        models = ",\n".join(json.dumps(r.to_dict(), ensure_ascii=False) for r in self._records.values())
        text = (f'{{"schema_version": {SCHEMA_VERSION}, "info_version": {INFO_VERSION},\n'
                f'"models": [\n{models}\n],\n'
                f'"ignored": {json.dumps(sorted(self._ignored), ensure_ascii=False)}}}\n')
        try:
            write_bytes_atomic(self.paths.registry_file, text.encode("utf-8"))
        except OSError as exc:
            raise RegistryError(f"Cannot save the model registry {self.paths.registry_file}: "
                                f"{exc.strerror or exc}.") from exc
        self._file_stat = _stat_of(self.paths.registry_file)
        self._unsaved_hashes.clear()  # whatever applied to a record was just written with it
        self._last_save = time.monotonic()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This process's lock plus the registry's lock file (re-entrant within this process: a flock
        taken twice through two descriptors would deadlock against itself)."""
        with self._lock:
            if self._flock_depth:
                self._flock_depth += 1
                try:
                    yield
                finally:
                    self._flock_depth -= 1
                return
            with locked(self.paths.registry_file.with_name(self.paths.registry_file.name + ".lock")):
                self._flock_depth = 1
                try:
                    yield
                finally:
                    self._flock_depth = 0

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the locks, pick up another process's changes first, save and notify afterwards."""
        with self._exclusive():
            if _stat_of(self.paths.registry_file) != self._file_stat:
                self._read_registry()
            yield
            self._save()
        self._notify()

    # ---- listeners ----------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every change (any thread). Returns an unsubscribe function."""
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            callback()

    # ---- queries ------------------------------------------------------------------------------------

    def models(self) -> list[ModelRecord]:
        with self._lock:
            return sorted(self._records.values(), key=lambda r: r.name.lower())

    def get(self, ref: str) -> ModelRecord:
        """A model by id, exact name, unique id prefix, or file path."""
        with self._lock:
            if ref in self._records:
                return self._records[ref]
            records = list(self._records.values())
        for matches in (
            [r for r in records if r.name == ref],
            [r for r in records if r.name.lower() == ref.lower()],
            [r for r in records if r.id.startswith(ref.lower())] if ref else [],
            _by_path(records, ref),
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                names = ", ".join(sorted(r.id for r in matches)[:5])
                raise ModelNotFoundError(f"{ref!r} matches several models ({names}); use the full id.")
        raise ModelNotFoundError(f"No model in the library matches {ref!r}.",
                                 hint="`llama-wrangler list` shows the ids.")

    def find_by_path(self, path: Path) -> ModelRecord | None:
        """The record one of whose files is ``path`` (same file, even through another link), or that was
        imported from ``path`` and still has its size."""
        with self._lock:
            records = list(self._records.values())
        matches = _by_path(records, str(path))
        if matches:
            return matches[0]
        wanted = str(absolute(path))
        try:
            size = Path(path).stat().st_size
        except OSError:
            return None
        for record in records:
            if record.origin.get("imported_from") == wanted and record.stats[:1] and \
                    record.stats[0][0] == size:
                return record
        return None

    # ---- changes ------------------------------------------------------------------------------------

    def register(self, files: Sequence[Path], *, source: str, owned: bool, origin: Mapping[str, str],
                 name: str | None = None, info: GGUFInfo | None = None,
                 sha256: str | None = None) -> ModelRecord:
        """Add a model whose files are already where they will stay. Used by the importer, discovery and
        :meth:`add_owned`. An already known file set returns its record (origin/source updated).
        ``sha256`` may be given when a store names files by their digest (Ollama, the HF blob store)."""
        files = tuple(absolute(f) for f in files)
        if info is None:
            info = read_gguf_set(files)
        stats = stat_files(files)
        if stats is None:
            raise ModelImportError(f"{files[0]} vanished while it was being added.")
        with self._changing():
            existing = next((r for r in self._records.values() if r.paths == files), None)
            if existing is not None:
                same = existing.stats == stats  # the cached hash is only valid for the same size+mtime
                record = replace(existing, source=source, origin=dict(origin), missing=False, info=info,
                                 stats=stats, sha256=existing.sha256 if same else None,
                                 shard_sha256=existing.shard_sha256 if same else (),
                                 size_bytes=sum(s[0] for s in stats))
            else:
                display = name or model_stem(files[0])
                record = ModelRecord(
                    id=make_id(display, info.quant, set(self._records)), name=display, paths=files,
                    size_bytes=sum(s[0] for s in stats), sha256=None, source=source, owned=owned,
                    missing=False, added_at=now_iso(), origin=dict(origin), info=info, stats=stats)
            if sha256 is not None and len(files) == 1:
                record = replace(record, sha256=sha256, shard_sha256=(sha256,))
            self._records[record.id] = record
            self._ignored.difference_update(str(f) for f in files)
        self._maybe_hash(record)
        return record

    def add_owned(self, path: Path, *, source: str, origin: dict[str, str],
                  sha256: str | None = None) -> ModelRecord:
        """Register a file a download or conversion already placed in the models folder. A download
        that verified the file's sha256 may pass it, so it is not hashed again (single files only)."""
        if not _inside(Path(path), self.models_dir):
            raise ModelImportError(f"{path} is not inside the models folder {self.models_dir}.")
        files = group_shards([Path(path)])[0]
        try:
            info = read_gguf_set(files)
        except GGUFError as exc:
            raise ModelImportError(f"{Path(path).name} is not a usable GGUF model: {exc}") from exc
        return self.register(files, source=source, owned=True, origin=origin, info=info, sha256=sha256)

    def import_files(self, paths: Iterable[Path], mode: ImportMode, *,
                     progress: ProgressCallback = ignore_progress,
                     cancel: CancelToken | None = None) -> list[ModelRecord]:
        """Copy/move/hardlink/link files or folders into the library (see :mod:`.importer`)."""
        from llama_wrangler.library.importer import import_models

        return import_models(self, list(paths), mode, progress=progress, cancel=cancel)

    def remove(self, ref: str, *, delete_file: bool) -> ModelRecord:
        """Forget a model; with ``delete_file`` also delete its files — only ever files we own."""
        record = self.get(ref)
        if delete_file and not record.owned:
            raise RegistryError(f"{record.id} is linked in place from {record.path.parent}; Llama Wrangler "
                                "only deletes files in its own models folder.",
                                hint="Remove it without --delete-file, then delete the file yourself.")
        if delete_file:
            for path in record.paths:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    raise RegistryError(f"Could not delete {path}: {exc.strerror or exc}.") from exc
        with self._changing():
            self._records.pop(record.id, None)
            if record.owned and not delete_file:
                self._ignored.update(str(p) for p in record.paths)
        return record

    def rescan(self) -> ScanReport:
        """Find added, changed and vanished files. Unchanged files cost one ``stat`` each."""
        report = ScanReport()
        with self._exclusive():
            if _stat_of(self.paths.registry_file) != self._file_stat:
                self._read_registry()
            dirty = False
            known: set[str] = set()
            for record in list(self._records.values()):
                known.update(str(p) for p in record.paths)
                updated = self._rescan_record(record, report)
                if updated is not record:
                    dirty = True
                    if updated is None:
                        del self._records[record.id]
                    else:
                        self._records[record.id] = updated
            new_files = [Path(p) for p in _gguf_files(self.models_dir) if p not in known
                         and p not in self._ignored]
            if new_files:
                dirty |= self._add_found(new_files, report)
            if dirty:
                self._save()
        if dirty:
            self._notify()
            if self._hash_in_background:
                self.start_hashing()
        return report

    def _rescan_record(self, record: ModelRecord, report: ScanReport) -> ModelRecord | None:
        stats = stat_files(record.paths)
        if stats is None:
            report.vanished.append(record.id)
            if record.owned:
                return None
            return record if record.missing else replace(record, missing=True)
        if stats == record.stats and not record.missing:
            report.unchanged.append(record.id)
            return record
        if stats == record.stats:  # back after being missing, same file
            report.changed.append(record.id)
            return replace(record, missing=False)
        try:
            info = read_gguf_set(record.paths)
        except GGUFError as exc:
            report.errors.append(str(exc))
            info = record.info
        report.changed.append(record.id)
        return replace(record, info=info, stats=stats, size_bytes=sum(s[0] for s in stats),
                       sha256=None, shard_sha256=(), missing=False)

    def _add_found(self, files: list[Path], report: ScanReport) -> bool:
        added = False
        seen: set[Path] = set()
        for path in files:
            if path in seen:
                continue
            try:
                group = group_shards([path])[0]
                seen.update(group)
                info = read_gguf_set(group)
            except (GGUFError, ModelImportError) as exc:
                report.errors.append(str(exc))
                continue
            display = model_stem(group[0])
            stats = stat_files(group)
            if stats is None:
                continue
            record = ModelRecord(
                id=make_id(display, info.quant, set(self._records)), name=display, paths=group,
                size_bytes=sum(s[0] for s in stats), sha256=None, source="local", owned=True,
                missing=False, added_at=now_iso(), origin={}, info=info, stats=stats)
            self._records[record.id] = record
            report.added.append(record.id)
            added = True
        return added

    # ---- hashing ------------------------------------------------------------------------------------

    def start_hashing(self) -> None:
        """Queue every present model that has no sha256 yet for background hashing."""
        self._hasher.submit_all(functools.partial(self._hash_one, record.id) for record in self.models()
                                if record.sha256 is None and not record.missing)

    def _maybe_hash(self, record: ModelRecord) -> None:
        if self._hash_in_background:
            self._hasher.submit(functools.partial(self._hash_one, record.id))

    def wait_for_hashes(self, timeout: float | None = None) -> bool:
        return self._hasher.wait(timeout)

    def compute_hash(self, ref: str, cancel: CancelToken | None = None) -> ModelRecord:
        """Hash a model now, in this thread (CLI, tests), and save; returns the updated record."""
        record = self.get(ref)
        self._hash_one(record.id, cancel or CancelToken())
        self._save_hashes()
        return self.get(record.id)

    def _hash_one(self, record_id: str, cancel: CancelToken) -> None:
        with self._lock:
            record = self._records.get(record_id)
        if record is None or (record.sha256 is not None and len(record.shard_sha256) == len(record.paths)):
            return
        hashes = tuple(sha256_file(p, cancel=cancel) for p in record.paths)
        # Only keep the hash if the files did not change while we read them (cached by size+mtime).
        if stat_files(record.paths) != record.stats:
            return
        cancel.raise_if_cancelled()  # closing: close() has saved, or is saving, what came before
        with self._lock:
            self._unsaved_hashes[record_id] = _Hashed(record.paths, record.stats, hashes)
            self._apply_hashes()
            due = time.monotonic() - self._last_save >= self._hash_save_interval_s
        if due:  # a long queue: keep finished work on disk every so often, not only at its end
            self._save_hashes()

    def _apply_hashes(self) -> None:
        """Put unsaved hashes into the records they were computed for, if those still have the same
        files; forget the rest (a changed file is hashed again)."""
        with self._lock:
            for record_id, hashed in list(self._unsaved_hashes.items()):
                current = self._records.get(record_id)
                if current is None or current.paths != hashed.paths or current.stats != hashed.stats:
                    del self._unsaved_hashes[record_id]
                elif current.shard_sha256 != hashed.hashes:
                    self._records[record_id] = replace(current, sha256=hashed.hashes[0],
                                                       shard_sha256=hashed.hashes)

    def _save_hashes(self) -> None:
        """Write the registry if hashes are waiting to be saved (one write for the whole batch)."""
        with self._exclusive():
            if not self._unsaved_hashes:
                return
            if _stat_of(self.paths.registry_file) != self._file_stat:
                self._read_registry()  # keeps another process's changes; re-applies our hashes
            if not self._unsaved_hashes:
                return
            self._save()
        self._notify()

    def close(self) -> None:
        """Stop background hashing and save the hashes finished so far (a half-hashed file is simply
        hashed again next time)."""
        self._hasher.close()
        self._save_hashes()


def _stat_of(path: Path) -> FileStat | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return absolute(path).is_relative_to(absolute(folder))
    except OSError:
        return False


def _by_path(records: list[ModelRecord], ref: str) -> list[ModelRecord]:
    if not ref or ("/" not in ref and os.sep not in ref and not ref.lower().endswith(".gguf")):
        return []
    try:
        target = Path(ref).stat()
    except OSError:
        wanted = absolute(ref)
        return [r for r in records if wanted in r.paths]
    found = []
    for record in records:
        for path in record.paths:
            try:
                st = path.stat()
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                found.append(record)
                break
    return found


def _gguf_files(folder: Path) -> list[str]:
    """Absolute paths (strings: a rescan compares a thousand of them, and Path objects cost) of ``*.gguf``
    under ``folder``, recursively, skipping hidden names (our temp files start with '.')."""
    found: list[str] = []
    stack = [str(absolute(folder))]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.name.lower().endswith(".gguf"):
                found.append(entry.path)
    found.sort()
    return found
