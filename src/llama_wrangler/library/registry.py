"""The model library: ``registry.json`` of every model we know, owned or linked in place.

Qt-free and thread-safe (one re-entrant lock around all state): downloads and conversions finish on
worker threads and call :meth:`Library.add_owned`; the GUI listens through :meth:`Library.subscribe`
(callbacks run on whichever thread made the change — the GUI re-emits them as a Qt signal).

Writes are atomic. A registry another process (the CLI beside the GUI) changed is re-read before we
change it, so the two do not overwrite each other's work.

One unreadable model entry is left out, kept aside in ``registry.bad-entries.jsonl`` and reported in
:attr:`Library.problem`; the rest load. A file that is not a registry at all is moved aside and the
library rebuilt from the models folder (see :mod:`.registry_file`).

Background hashes are saved in batches, not one registry write per file (a write costs tens of ms with
hundreds of models): when the hasher's queue drains, at most every ``hash_save_interval_s`` while it
works through a long queue, with any other change, and on :meth:`Library.close`. Until then they live in
memory (queries see them at once); a crash loses only those, and they are hashed again next time.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from llama_wrangler.atomic import move_aside
from llama_wrangler.errors import GGUFError, ModelImportError, RegistryError
from llama_wrangler.kept_aside import BadEntry, describe, keep_aside
from llama_wrangler.library.filelock import locked
from llama_wrangler.library.gguf import INFO_VERSION, GGUFInfo, read_gguf_set
from llama_wrangler.library.hashing import BackgroundHasher, UnsavedHashes, sha256_file
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.lookup import by_path, imported_from, match_ref
from llama_wrangler.library.origins import ModelSource, Origin, check_origin
from llama_wrangler.library.projectors import projector_beside
from llama_wrangler.library.records import (
    FileStat,
    ModelRecord,
    ScanReport,
    absolute,
    inside,
    make_id,
    now_iso,
    stat_files,
)
from llama_wrangler.library.registry_file import (
    NotARegistryError,
    left_out_problem,
    read_registry,
    rebuilt_problem,
    reset_problem,
    stat_of,
    write_registry,
)
from llama_wrangler.library.scan import found_records, gguf_files, rescan_record
from llama_wrangler.library.shards import group_shards, model_stem
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.settings import ImportMode

__all__ = ["Library", "ModelRecord", "ScanReport"]

log = logging.getLogger(__name__)

HASH_SAVE_INTERVAL_S = 2.0


class Library:
    """Every model we know. Call :meth:`load` once before use."""

    def __init__(self, paths: AppPaths, *, models_dir: Path | None = None,
                 hash_in_background: bool = True,
                 hash_save_interval_s: float = HASH_SAVE_INTERVAL_S) -> None:
        self.paths = paths
        self.models_dir = models_dir or paths.models_dir
        self.problem: str | None = None  # set when the registry was rebuilt or entries were left out
        self._lock = threading.RLock()
        self._records: dict[str, ModelRecord] = {}
        self._ignored: set[str] = set()  # owned files the user removed but kept: rescans skip them
        self._file_stat: FileStat | None = None
        self._flock_depth = 0
        self._listeners: list[Callable[[], None]] = []
        self._hash_in_background = hash_in_background
        self._hash_save_interval_s = hash_save_interval_s
        self._unsaved_hashes = UnsavedHashes()  # cleared by every save
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
            contents = read_registry(path)
        except NotARegistryError as exc:
            self._rebuild(path, exc)
            return
        if contents is None:
            self._records, self._ignored, self._file_stat = {}, set(), None
            return
        self._records = {r.id: r for r in contents.records}
        self._ignored = contents.ignored
        self._file_stat = stat_of(path)
        self._apply_hashes()  # another process saved: our unsaved hashes are not in what we just read
        if contents.bad or contents.reset:
            self._leave_out(contents.bad, contents.reset)
        if contents.info_version is None or contents.info_version < INFO_VERSION:
            self._refresh_infos()

    def refresh(self) -> bool:
        """Re-read the registry if another process (``configure`` on the command line) changed it: one
        ``stat`` when it did not. True, and listeners told, when it was re-read."""
        with self._exclusive():
            if stat_of(self.paths.registry_file) == self._file_stat:
                return False
            self._read_registry()
        self._notify()
        return True

    def _leave_out(self, bad: list[BadEntry], reset: list[BadEntry]) -> None:
        """Keep unreadable entries (and those whose load settings were reset) beside the registry, then
        save it without them (so they are reported once, not on every start)."""
        path = self.paths.registry_file
        try:
            kept = keep_aside(path, [*bad, *reset])
        except OSError as err:
            raise RegistryError(f"The model registry {path} has unreadable entries ({describe(bad + reset)}) "
                                f"and they could not be kept aside: {err.strerror or err}.") from err
        self.problem = " ".join([*([left_out_problem(bad, kept, loaded=len(self._records))] if bad else []),
                                 *([reset_problem(reset, kept)] if reset else [])])
        log.warning(self.problem)
        self._save()

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
        self.problem = rebuilt_problem(exc, aside, found=len(report.added))
        log.warning(self.problem)

    def _save(self) -> None:
        self._file_stat = write_registry(self.paths.registry_file, self._records.values(), self._ignored)
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
            if stat_of(self.paths.registry_file) != self._file_stat:
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
        return match_ref(records, ref)

    def find_by_path(self, path: Path) -> ModelRecord | None:
        """The record one of whose files is ``path`` (same file, even through another link), or that was
        imported from ``path`` and still has its size."""
        with self._lock:
            records = list(self._records.values())
        matches = by_path(records, str(path))
        return matches[0] if matches else imported_from(records, path)

    # ---- changes ------------------------------------------------------------------------------------

    def register(self, files: Sequence[Path], *, source: ModelSource, owned: bool, origin: Origin | None,
                 name: str | None = None, info: GGUFInfo | None = None,
                 sha256: str | None = None, mmproj: Path | None = None) -> ModelRecord:
        """Add a model whose files are already where they will stay. Used by the importer, discovery and
        :meth:`add_owned`. An already known file set returns its record (origin/source updated).
        ``sha256`` may be given when a store names files by their digest (Ollama, the HF blob store);
        ``mmproj`` pairs a vision projector (default: the one beside the model, if any)."""
        check_origin(source, origin)
        files = tuple(absolute(f) for f in files)
        mmproj = absolute(mmproj) if mmproj is not None else projector_beside(files[0])
        if info is None:
            info = read_gguf_set(files)
        stats = stat_files(files)
        if stats is None:
            raise ModelImportError(f"{files[0]} vanished while it was being added.")
        with self._changing():
            existing = next((r for r in self._records.values() if r.paths == files), None)
            if existing is not None:
                same = existing.stats == stats  # the cached hash is only valid for the same size+mtime
                record = replace(existing, source=source, origin=origin, missing=False, info=info,
                                 stats=stats, sha256=existing.sha256 if same else None,
                                 shard_sha256=existing.shard_sha256 if same else (),
                                 size_bytes=sum(s[0] for s in stats), mmproj=mmproj or existing.mmproj)
            else:
                display = name or model_stem(files[0])
                record = ModelRecord(
                    id=make_id(display, info.quant, set(self._records)), name=display, paths=files,
                    size_bytes=sum(s[0] for s in stats), sha256=None, source=source, owned=owned,
                    missing=False, added_at=now_iso(), origin=origin, info=info, stats=stats, mmproj=mmproj)
            if sha256 is not None and len(files) == 1:
                record = replace(record, sha256=sha256, shard_sha256=(sha256,))
            self._records[record.id] = record
            self._ignored.difference_update(str(f) for f in files)
        self._maybe_hash(record)
        return record

    def add_owned(self, path: Path, *, source: ModelSource, origin: Origin | None = None,
                  sha256: str | None = None) -> ModelRecord:
        """Register a file a download or conversion already placed in the models folder. A download
        that verified the file's sha256 may pass it, so it is not hashed again (single files only)."""
        if not inside(Path(path), self.models_dir):
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

    def set_load_settings(self, ref: str, load: LoadSettings) -> ModelRecord:
        """Store how ``ref`` is loaded (the next start of it uses them); returns the updated record."""
        with self._changing():
            record = replace(self.get(ref), load=load)
            self._records[record.id] = record
        return record

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
            if stat_of(self.paths.registry_file) != self._file_stat:
                self._read_registry()
            dirty = False
            known: set[str] = set()
            for record in list(self._records.values()):
                known.update(str(p) for p in (*record.paths, *([record.mmproj] if record.mmproj else [])))
                updated = rescan_record(record, report)
                if updated is not record:
                    dirty = True
                    if updated is None:
                        del self._records[record.id]
                    else:
                        self._records[record.id] = updated
            new_files = [Path(p) for p in gguf_files(self.models_dir) if p not in known
                         and p not in self._ignored]
            for found in found_records(new_files, set(self._records), report) if new_files else []:
                self._records[found.id] = found
                dirty = True
            if dirty:
                self._save()
        if dirty:
            self._notify()
            if self._hash_in_background:
                self.start_hashing()
        return report

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
            self._unsaved_hashes.add(record, hashes)
            self._apply_hashes()
            due = time.monotonic() - self._last_save >= self._hash_save_interval_s
        if due:  # a long queue: keep finished work on disk every so often, not only at its end
            self._save_hashes()

    def _apply_hashes(self) -> None:
        with self._lock:
            self._unsaved_hashes.apply(self._records)

    def _save_hashes(self) -> None:
        """Write the registry if hashes are waiting to be saved (one write for the whole batch)."""
        with self._exclusive():
            if not self._unsaved_hashes:
                return
            if stat_of(self.paths.registry_file) != self._file_stat:
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

