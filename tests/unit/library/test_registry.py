"""The registry: persistence, ids, lookup, rescan, removal, background hashing, corruption, threads."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from llama_wrangler.errors import ModelImportError, ModelNotFoundError, RegistryError
from llama_wrangler.library import registry as registry_module
from llama_wrangler.library import registry_file
from llama_wrangler.library.origins import HfOrigin, ModelSource
from llama_wrangler.library.registry import Library
from llama_wrangler.library.registry_file import SCHEMA_VERSION
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken
from llama_wrangler.settings import ImportMode
from tests.support.gguf_files import write_gguf, write_split_gguf


def library(paths: AppPaths, *, background: bool = False) -> Library:
    return Library(paths, hash_in_background=background).load()


def owned_file(paths: AppPaths, name: str = "tiny-Q4_K_M.gguf", **kwargs: object) -> Path:
    return write_gguf(paths.models_dir / name, **kwargs)  # type: ignore[arg-type]


def test_add_owned_persists_and_reloads(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    path = owned_file(app_paths, kv={"general.name": "Tiny"})
    record = lib.add_owned(path, source=ModelSource.HF,
                           origin=HfOrigin(repo="org/tiny", revision="a" * 40, files=(path.name,)))
    assert record.owned and not record.missing
    assert record.id == "tiny-q4_k_m"
    assert record.path == path
    assert record.size_bytes == path.stat().st_size
    assert record.info.architecture == "llama"
    again = library(app_paths).get(record.id)
    assert again == record
    saved = json.loads(app_paths.registry_file.read_text())
    assert saved["schema_version"] == SCHEMA_VERSION


def test_add_owned_refuses_files_outside_the_models_folder(app_paths: AppPaths, tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "elsewhere.gguf")
    with pytest.raises(ModelImportError, match="not inside the models folder"):
        library(app_paths).add_owned(path, source=ModelSource.HF)


def test_ids_are_readable_and_deduplicated(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    first = write_gguf(tmp_path / "a" / "Llama 3 8B.gguf")
    second = write_gguf(tmp_path / "b" / "Llama 3 8B.gguf")
    ids = [r.id for r in lib.import_files([first, second], ImportMode.LINK)]
    assert ids == ["llama-3-8b-q4_k_m", "llama-3-8b-q4_k_m-2"]


def test_get_by_id_name_prefix_and_path(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    a = lib.add_owned(owned_file(app_paths, "alpha-Q8_0.gguf", kv={"general.file_type": 7}),
                      source=ModelSource.LOCAL)
    lib.add_owned(owned_file(app_paths, "alpine.gguf"), source=ModelSource.LOCAL)
    assert lib.get(a.id) == a
    assert lib.get("alpha-Q8_0") == a
    assert lib.get("alph") == a
    assert lib.get(str(a.path)) == a
    with pytest.raises(ModelNotFoundError, match="several models"):
        lib.get("al")
    with pytest.raises(ModelNotFoundError, match="No model"):
        lib.get("zeta")


def test_rescan_finds_added_changed_and_vanished(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    kept = lib.add_owned(owned_file(app_paths, "kept.gguf"), source=ModelSource.LOCAL)
    gone = lib.add_owned(owned_file(app_paths, "gone.gguf"), source=ModelSource.LOCAL)
    linked = lib.import_files([write_gguf(tmp_path / "linked.gguf")], ImportMode.LINK)[0]
    changed = lib.add_owned(owned_file(app_paths, "changed.gguf"), source=ModelSource.LOCAL)

    new_file = owned_file(app_paths, "dropped-in.gguf")
    gone.path.unlink()
    linked.path.unlink()
    write_gguf(changed.path, kv={"llama.context_length": 32768})
    os.utime(changed.path, ns=(1, 1))

    report = lib.rescan()
    assert report.unchanged == [kept.id]
    assert sorted(report.vanished) == sorted([gone.id, linked.id])
    assert report.changed == [changed.id]
    assert len(report.added) == 1
    assert lib.get(report.added[0]).path == new_file
    with pytest.raises(ModelNotFoundError):
        lib.get(gone.id)  # owned and gone: dropped
    assert lib.get(linked.id).missing  # linked and gone: kept, marked missing
    assert lib.get(changed.id).info.context_length == 32768


def test_rescan_of_unchanged_files_reads_no_headers(app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = library(app_paths)
    for i in range(5):
        lib.add_owned(owned_file(app_paths, f"m{i}.gguf"), source=ModelSource.LOCAL)
    before = app_paths.registry_file.stat().st_mtime_ns

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a header was read during a rescan of unchanged files")

    monkeypatch.setattr("llama_wrangler.library.registry.read_gguf_set", forbidden)
    report = lib.rescan()
    assert len(report.unchanged) == 5
    assert app_paths.registry_file.stat().st_mtime_ns == before  # nothing changed, nothing written


def test_linked_model_that_comes_back_is_no_longer_missing(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    path = write_gguf(tmp_path / "usb" / "m.gguf")
    record = lib.import_files([path], ImportMode.LINK)[0]
    aside = path.with_name("aside")
    path.rename(aside)
    lib.rescan()
    assert lib.get(record.id).missing
    aside.rename(path)
    assert lib.rescan().changed == [record.id]
    assert not lib.get(record.id).missing


def test_incomplete_split_in_models_folder_is_reported_not_added(app_paths: AppPaths) -> None:
    files = write_split_gguf(app_paths.models_dir / "big.gguf", 3)
    files[2].unlink()
    report = library(app_paths).rescan()
    assert report.added == []
    assert any("big-00003-of-00003.gguf" in e for e in report.errors)


def test_split_model_is_one_record(app_paths: AppPaths) -> None:
    files = write_split_gguf(app_paths.models_dir / "big.gguf", 3)
    report = library(app_paths).rescan()
    assert len(report.added) == 1
    record = library(app_paths).get(report.added[0])
    assert record.paths == tuple(files)
    assert record.name == "big"
    assert record.info.split_count == 3


def test_remove_keeps_file_and_rescan_does_not_bring_it_back(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    record = lib.add_owned(owned_file(app_paths), source=ModelSource.LOCAL)
    lib.remove(record.id, delete_file=False)
    assert record.path.exists()
    assert lib.rescan().added == []
    assert lib.models() == []


def test_remove_with_delete_only_deletes_owned_files(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    owned = lib.add_owned(owned_file(app_paths), source=ModelSource.LOCAL)
    linked = lib.import_files([write_gguf(tmp_path / "mine.gguf")], ImportMode.LINK)[0]
    with pytest.raises(RegistryError, match="only deletes files in its own models folder"):
        lib.remove(linked.id, delete_file=True)
    assert linked.path.exists()
    assert lib.get(linked.id) == linked  # nothing changed
    lib.remove(owned.id, delete_file=True)
    assert not owned.path.exists()


def test_corrupt_registry_is_kept_aside_and_rebuilt(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    lib.add_owned(owned_file(app_paths), source=ModelSource.LOCAL)
    lib.import_files([write_gguf(tmp_path / "linked.gguf")], ImportMode.LINK)
    app_paths.registry_file.write_text('{"schema_version": 1, "models": [ {"id": ')
    rebuilt = library(app_paths)
    assert rebuilt.problem is not None
    assert "kept as registry.json.bad-" in rebuilt.problem
    assert "linked in place" in rebuilt.problem
    assert [r.path.name for r in rebuilt.models()] == ["tiny-Q4_K_M.gguf"]
    aside = list(app_paths.data_dir.glob("registry.json.bad-*"))
    assert len(aside) == 1 and aside[0].read_text().startswith('{"schema_version": 1')


def bad_entries(paths: AppPaths) -> list[dict[str, object]]:
    kept = paths.data_dir / "registry.bad-entries.jsonl"
    return [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]


def test_one_malformed_entry_is_left_out_and_kept_aside(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    broken = lib.add_owned(owned_file(app_paths), source=ModelSource.LOCAL)
    linked = lib.import_files([write_gguf(tmp_path / "elsewhere" / "linked.gguf")], ImportMode.LINK)[0]
    raw = json.loads(app_paths.registry_file.read_text())
    entry = next(e for e in raw["models"] if e["id"] == broken.id)
    entry["size_bytes"] = "a lot"
    app_paths.registry_file.write_text(json.dumps(raw))
    reloaded = library(app_paths)
    # The model linked in place and its origin survive; only the bad entry is gone.
    assert reloaded.models() == [linked]
    assert reloaded.get(linked.id).origin == linked.origin
    assert reloaded.problem is not None
    assert broken.id in reloaded.problem and "size_bytes" in reloaded.problem
    assert "registry.bad-entries.jsonl" in reloaded.problem
    assert not list(app_paths.data_dir.glob("registry.json.bad-*"))  # the file itself was not set aside
    [kept] = bad_entries(app_paths)
    assert kept["entry"] == entry and "size_bytes" in str(kept["reason"])
    # The registry was saved without it: the next start has nothing to report, and keeps nothing twice.
    again = library(app_paths)
    assert again.problem is None and again.models() == [linked]
    assert len(bad_entries(app_paths)) == 1


def test_entries_without_an_id_are_named_by_their_file_or_place(app_paths: AppPaths) -> None:
    app_paths.registry_file.write_text(json.dumps({"schema_version": 1, "models": [
        {"id": "x"}, {"paths": ["/models/nameless.gguf"]}, 42]}))
    lib = library(app_paths)
    assert lib.models() == []
    assert lib.problem is not None and lib.problem.startswith("3 model entries in the registry")
    assert "'x' (no 'paths')" in lib.problem
    assert "'/models/nameless.gguf' (no 'source')" in lib.problem
    assert "'model entry 3' (not a JSON object)" in lib.problem
    assert [e["entry"] for e in bad_entries(app_paths)] == [{"id": "x"}, {"paths": ["/models/nameless.gguf"]}, 42]


def test_a_registry_that_is_not_a_registry_is_rebuilt(app_paths: AppPaths) -> None:
    owned_file(app_paths)
    app_paths.registry_file.write_text(json.dumps({"schema_version": 1, "models": {"id": "x"}}))
    rebuilt = library(app_paths)
    assert rebuilt.problem is not None and "no list of models" in rebuilt.problem
    assert "kept as registry.json.bad-" in rebuilt.problem
    assert len(rebuilt.models()) == 1


def test_registry_from_a_newer_version_is_refused_untouched(app_paths: AppPaths) -> None:
    text = json.dumps({"schema_version": SCHEMA_VERSION + 1, "models": []})
    app_paths.registry_file.write_text(text)
    with pytest.raises(RegistryError, match="newer version"):
        library(app_paths)
    assert app_paths.registry_file.read_text() == text


def test_background_hashing_fills_sha256_and_rescan_keeps_it(app_paths: AppPaths) -> None:
    lib = library(app_paths, background=True)
    path = owned_file(app_paths)
    record = lib.add_owned(path, source=ModelSource.LOCAL)
    assert lib.wait_for_hashes(timeout=30)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert lib.get(record.id).sha256 == expected
    lib.rescan()
    assert lib.get(record.id).sha256 == expected  # cached by (size, mtime): not reset
    lib.close()
    assert library(app_paths).get(record.id).sha256 == expected


class CountingWrites:
    """Counts registry writes; each still goes through the real atomic writer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._write = registry_file.write_bytes_atomic
        monkeypatch.setattr(registry_file, "write_bytes_atomic", self)

    def __call__(self, target: Path, data: bytes) -> None:
        self.count += 1
        self._write(target, data)


def unhashed_models(paths: AppPaths, count: int) -> dict[str, str]:
    """``count`` models in the registry, none hashed yet; returns id -> expected sha256."""
    lib = library(paths)
    expected = {}
    for i in range(count):
        path = owned_file(paths, f"m{i:03}.gguf", kv={"general.name": f"model {i}"})
        record = lib.add_owned(path, source=ModelSource.LOCAL)
        expected[record.id] = hashlib.sha256(path.read_bytes()).hexdigest()
    assert all(r.sha256 is None for r in lib.models())
    return expected


def test_background_hashing_writes_the_registry_once_per_batch(
        app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = unhashed_models(app_paths, 60)
    writes = CountingWrites(monkeypatch)
    # No interval save can come due: what is measured is the batching itself.
    lib = Library(app_paths, hash_save_interval_s=3600).load()
    assert lib.wait_for_hashes(timeout=60)
    assert writes.count == 1  # not one per model
    assert {r.id: r.sha256 for r in library(app_paths).models()} == expected
    lib.close()
    assert writes.count == 1  # nothing was left to save


def test_a_long_hashing_run_saves_as_it_goes(app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = unhashed_models(app_paths, 5)
    writes = CountingWrites(monkeypatch)
    # Every interval elapsed at once: each finished hash is saved before the next one starts.
    lib = Library(app_paths, hash_save_interval_s=0).load()
    assert lib.wait_for_hashes(timeout=60)
    assert writes.count == 5
    assert {r.id: r.sha256 for r in library(app_paths).models()} == expected
    lib.close()


class HoldLastHash:
    """Real hashing, except that hashing the ``count``-th file waits until :meth:`release`: the files
    before it are hashed and waiting to be saved with the batch, which has not ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
        self.count = count
        self.paths: list[Path] = []
        self.reached = threading.Event()
        self._release = threading.Event()
        self._sha256 = registry_module.sha256_file
        monkeypatch.setattr(registry_module, "sha256_file", self)

    def __call__(self, path: Path, cancel: CancelToken | None = None) -> str:
        self.paths.append(path)
        if len(self.paths) == self.count:
            self.reached.set()
            self._release.wait(timeout=60)
        return self._sha256(path, cancel=cancel)

    def release(self) -> None:
        self._release.set()


def test_close_saves_the_hashes_finished_so_far(app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = unhashed_models(app_paths, 4)
    hold = HoldLastHash(monkeypatch, 4)
    writes = CountingWrites(monkeypatch)
    lib = Library(app_paths, hash_save_interval_s=3600).load()
    assert hold.reached.wait(timeout=60)
    assert writes.count == 0  # three hashes done, waiting for the end of the batch
    lib.close()
    hold.release()
    assert lib.wait_for_hashes(timeout=60)  # the held one was cancelled, not saved
    assert writes.count == 1
    saved = {r.id: r.sha256 for r in library(app_paths).models()}
    held_id = next(r.id for r in library(app_paths).models() if r.path == hold.paths[-1])
    assert saved == {**expected, held_id: None}


def test_unsaved_hashes_survive_another_process_saving_first(
        app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = unhashed_models(app_paths, 3)
    hold = HoldLastHash(monkeypatch, 3)
    gui = Library(app_paths, hash_save_interval_s=3600).load()
    assert hold.reached.wait(timeout=60)
    # Another process (the CLI) saves while the GUI holds two hashes it has not written yet.
    library(app_paths).add_owned(owned_file(app_paths, "from-cli.gguf"), source=ModelSource.LOCAL)
    hold.release()
    assert gui.wait_for_hashes(timeout=60)
    gui.close()
    final = {r.id: r.sha256 for r in library(app_paths).models()}
    assert "from-cli" in {r.name for r in library(app_paths).models()}
    assert {key: final[key] for key in expected} == expected


def test_changed_file_loses_its_stale_hash(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    record = lib.compute_hash(lib.add_owned(owned_file(app_paths), source=ModelSource.LOCAL).id)
    assert record.sha256 is not None
    write_gguf(record.path, kv={"general.name": "different"})
    os.utime(record.path, ns=(5, 5))
    lib.rescan()
    assert lib.get(record.id).sha256 is None


def test_listeners_hear_changes(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    calls: list[int] = []
    unsubscribe = lib.subscribe(lambda: calls.append(1))
    lib.add_owned(owned_file(app_paths), source=ModelSource.LOCAL)
    assert calls
    unsubscribe()
    count = len(calls)
    lib.add_owned(owned_file(app_paths, "b.gguf"), source=ModelSource.LOCAL)
    assert len(calls) == count


def test_concurrent_add_owned_from_threads(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    # Same file name in different subfolders: every thread wants the same id.
    files = [owned_file(app_paths, f"t{i}/same.gguf") for i in range(8)]
    errors: list[BaseException] = []

    def add(path: Path) -> None:
        try:
            lib.add_owned(path, source=ModelSource.HF)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(f,)) for f in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.id for r in lib.models()) == sorted(["same-q4_k_m"] + [f"same-q4_k_m-{i}" for i in range(2, 9)])
    assert len(library(app_paths).models()) == 8


def test_another_process_changes_are_not_overwritten(app_paths: AppPaths) -> None:
    gui = library(app_paths)
    cli = library(app_paths)
    cli.add_owned(owned_file(app_paths, "from-cli.gguf"), source=ModelSource.LOCAL)
    gui.add_owned(owned_file(app_paths, "from-gui.gguf"), source=ModelSource.LOCAL)
    names = sorted(r.name for r in library(app_paths).models())
    assert names == ["from-cli", "from-gui"]


def test_add_owned_accepts_a_verified_sha256(app_paths: AppPaths) -> None:
    lib = library(app_paths, background=True)
    path = owned_file(app_paths)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record = lib.add_owned(path, source=ModelSource.HF,
                           origin=HfOrigin(repo="org/x", revision="b" * 40, files=(path.name,)), sha256=digest)
    assert record.sha256 == digest
    assert lib.wait_for_hashes(timeout=30)
    assert lib.get(record.id).sha256 == digest


def test_two_processes_adding_at_once_lose_nothing(app_paths: AppPaths) -> None:
    for writer in ("a", "b"):
        for i in range(12):
            owned_file(app_paths, f"{writer}{i}.gguf")
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from llama_wrangler.library.origins import ModelSource\n"
        "from llama_wrangler.library.registry import Library\nfrom llama_wrangler.paths import AppPaths\n"
        "paths = AppPaths.under(Path(sys.argv[1]))\n"
        "lib = Library(paths, hash_in_background=False).load()\n"
        "for i in range(12):\n"
        "    lib.add_owned(paths.models_dir / f'{sys.argv[2]}{i}.gguf', source=ModelSource.HF)\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", script, str(app_paths.data_dir), writer])
                 for writer in ("a", "b")]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    records = library(app_paths).models()
    assert len(records) == 24
    assert {r.source for r in records} == {"hf"}


def test_registry_from_an_older_reader_gets_fresh_headers(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    present = lib.add_owned(owned_file(app_paths, kv={"llama.context_length": 1234}),
                            source=ModelSource.HF)
    gone = lib.import_files([write_gguf(tmp_path / "gone.gguf")], ImportMode.LINK)[0]
    gone.path.unlink()
    raw = json.loads(app_paths.registry_file.read_text())
    del raw["info_version"]
    for entry in raw["models"]:
        for key in ("context_length", "vocab_size", "metadata", "has_chat_template"):
            del entry["info"][key]  # as if written before these fields existed
    app_paths.registry_file.write_text(json.dumps(raw))
    reloaded = library(app_paths)
    assert reloaded.problem is None
    assert reloaded.get(present.id).info.context_length == 1234
    assert reloaded.get(present.id).info == present.info
    old = reloaded.get(gone.id).info
    assert (old.context_length, old.has_chat_template, old.metadata) == (None, False, {})
    assert json.loads(app_paths.registry_file.read_text())["info_version"] >= 1
