"""Importing: copy, move, hardlink, link; validation first; names never overwrite; folders; split sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llama_wrangler.errors import CancelledError, ModelImportError
from llama_wrangler.library.origins import ImportOrigin
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.settings import ImportMode
from tests.support.gguf_files import write_gguf, write_split_gguf


@pytest.fixture
def lib(app_paths: AppPaths) -> Library:
    return Library(app_paths, hash_in_background=False).load()


def models_dir_listing(lib: Library) -> list[str]:
    return sorted(p.name for p in lib.models_dir.iterdir())


def test_copy_keeps_the_source_and_owns_the_copy(lib: Library, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    reports: list[Progress] = []
    record = lib.import_files([source], ImportMode.COPY, progress=reports.append)[0]
    assert source.exists()
    assert record.owned and record.source == "import"
    assert record.path == lib.models_dir / "m.gguf"
    assert record.path.read_bytes() == source.read_bytes()
    assert not record.path.samefile(source)
    assert record.origin == ImportOrigin(imported_from=str(source), mode=ImportMode.COPY)
    assert reports[-1].done == reports[-1].total == source.stat().st_size


def test_move_removes_the_source(lib: Library, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    data = source.read_bytes()
    record = lib.import_files([source], ImportMode.MOVE)[0]
    assert not source.exists()
    assert record.path.read_bytes() == data


def test_hardlink_shares_the_file(lib: Library, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    record = lib.import_files([source], ImportMode.HARDLINK)[0]
    assert record.path.samefile(source)
    assert record.owned


def test_link_uses_the_file_in_place(lib: Library, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    record = lib.import_files([source], ImportMode.LINK)[0]
    assert record.path == source
    assert not record.owned
    assert models_dir_listing(lib) == []


def test_hardlink_across_filesystems_suggests_copy(app_paths: AppPaths) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == app_paths.models_dir.stat().st_dev:
        pytest.skip("needs a second filesystem (/dev/shm) to hardlink across")
    folder = shm / f"lw-test-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    try:
        source = write_gguf(folder / "m.gguf")
        lib = Library(app_paths, hash_in_background=False).load()
        with pytest.raises(ModelImportError, match="different drive or filesystem") as caught:
            lib.import_files([source], ImportMode.HARDLINK)
        assert "--mode copy" in str(caught.value)
        assert models_dir_listing(lib) == []
        # A move across filesystems falls back to copy + delete.
        record = lib.import_files([source], ImportMode.MOVE)[0]
        assert not source.exists() and record.path.exists()
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def test_name_clash_never_overwrites(lib: Library, tmp_path: Path) -> None:
    taken = lib.models_dir / "m.gguf"
    taken.write_bytes(b"someone else's file")
    first = write_gguf(tmp_path / "a" / "m.gguf")
    second = write_gguf(tmp_path / "b" / "m.gguf", kv={"general.name": "other"})
    records = lib.import_files([first, second], ImportMode.COPY)
    assert [r.path.name for r in records] == ["m-1.gguf", "m-2.gguf"]
    assert taken.read_bytes() == b"someone else's file"


def test_non_gguf_is_refused_and_nothing_changes(lib: Library, tmp_path: Path) -> None:
    good = write_gguf(tmp_path / "good.gguf")
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello")
    with pytest.raises(ModelImportError, match=r"notes\.gguf: not a GGUF file"):
        lib.import_files([good, bad], ImportMode.MOVE)
    assert good.exists() and bad.exists()
    assert models_dir_listing(lib) == []
    assert lib.models() == []


def test_truncated_gguf_is_refused(lib: Library, tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "cut.gguf")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelImportError, match="truncated"):
        lib.import_files([path], ImportMode.COPY)


def test_missing_path_is_refused(lib: Library, tmp_path: Path) -> None:
    with pytest.raises(ModelImportError, match="does not exist"):
        lib.import_files([tmp_path / "nope.gguf"], ImportMode.COPY)


def test_importing_the_same_file_again_says_so(lib: Library, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    record = lib.import_files([source], ImportMode.COPY)[0]
    with pytest.raises(ModelImportError, match=f"already in the library as {record.id}"):
        lib.import_files([source], ImportMode.COPY)
    with pytest.raises(ModelImportError, match="already in the library"):
        lib.import_files([record.path], ImportMode.LINK)
    assert len(lib.models()) == 1
    assert models_dir_listing(lib) == ["m.gguf"]


def test_folder_imports_every_gguf_and_split_sets_as_one(lib: Library, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    write_gguf(folder / "one.gguf")
    write_gguf(folder / "nested" / "deeper" / "two.gguf")
    write_split_gguf(folder / "nested" / "big.gguf", 3)
    (folder / "readme.txt").write_text("not a model")
    records = lib.import_files([folder], ImportMode.COPY)
    assert sorted(r.name for r in records) == ["big", "one", "two"]
    big = next(r for r in records if r.name == "big")
    assert [p.name for p in big.paths] == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    # Again: everything is known already.
    with pytest.raises(ModelImportError, match="already in the library"):
        lib.import_files([folder], ImportMode.COPY)


def test_importing_any_shard_imports_the_set(lib: Library, tmp_path: Path) -> None:
    files = write_split_gguf(tmp_path / "big.gguf", 2)
    record = lib.import_files([files[1]], ImportMode.HARDLINK)[0]
    assert [p.name for p in record.paths] == [f.name for f in files]


def test_split_set_with_a_clash_keeps_its_shard_pattern(lib: Library, tmp_path: Path) -> None:
    (lib.models_dir / "big-00002-of-00002.gguf").write_bytes(b"taken")
    files = write_split_gguf(tmp_path / "big.gguf", 2)
    record = lib.import_files([files[0]], ImportMode.COPY)[0]
    assert [p.name for p in record.paths] == ["big-1-00001-of-00002.gguf", "big-1-00002-of-00002.gguf"]


def test_missing_shard_is_a_clear_error(lib: Library, tmp_path: Path) -> None:
    files = write_split_gguf(tmp_path / "big.gguf", 3)
    files[1].unlink()
    with pytest.raises(ModelImportError, match=r"big-00002-of-00003\.gguf"):
        lib.import_files([files[0]], ImportMode.COPY)


def test_cancelled_copy_leaves_no_partial_file(lib: Library, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        lib.import_files([source], ImportMode.COPY, cancel=cancel)
    assert models_dir_listing(lib) == []
    assert lib.models() == []


def test_copy_in_progress_has_only_a_hidden_temporary_name(lib: Library, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    seen: list[list[str]] = []

    def look(_progress: Progress) -> None:
        seen.append(models_dir_listing(lib))

    lib.import_files([source], ImportMode.COPY, progress=look)
    assert seen and all(name.startswith(".m.gguf.partial") for names in seen for name in names)
    assert models_dir_listing(lib) == ["m.gguf"]


def test_gguf_without_the_extension_gets_one_in_the_models_folder(lib: Library, tmp_path: Path) -> None:
    blob = write_gguf(tmp_path / "blob.gguf").rename(tmp_path / "sha256-0123abcd")
    record = lib.import_files([blob], ImportMode.COPY)[0]
    assert record.path.name == "sha256-0123abcd.gguf"
    assert lib.rescan().unchanged == [record.id]
