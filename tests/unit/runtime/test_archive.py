"""Unpacking archives from outside never writes outside the target folder."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from llama_wrangler.errors import LlamaRuntimeError, UnsafePathError
from llama_wrangler.runtime.archive import single_top_dir, unpack


def make_tar(path: Path, entries: list[tarfile.TarInfo], payloads: dict[str, bytes] | None = None) -> Path:
    payloads = payloads or {}
    with tarfile.open(path, "w:gz") as tar:
        for info in entries:
            data = payloads.get(info.name)
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def file_entry(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def link_entry(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_good_tar_unpacks_with_exec_bits(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "ok.tar.gz",
                       [file_entry("top/run.sh", 0o4755), file_entry("top/data.txt"),
                        link_entry("top/alias", "data.txt")],
                       {"top/run.sh": b"#!/bin/sh\n", "top/data.txt": b"hello"})
    dest = unpack(archive, tmp_path / "out")
    top = single_top_dir(dest)
    assert top == dest / "top"
    assert (top / "data.txt").read_bytes() == b"hello"
    mode = (top / "run.sh").stat().st_mode
    assert mode & stat.S_IXUSR and not mode & stat.S_ISUID  # executable kept, setuid dropped
    assert (top / "alias").read_bytes() == b"hello"  # an inside link is fine


@pytest.mark.parametrize("name", ["../evil.txt", "top/../../evil.txt", "/tmp/evil-abs.txt", "C:/evil.txt"])
def test_tar_path_traversal_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_tar(tmp_path / "bad.tar.gz", [file_entry(name)], {name: b"x"})
    with pytest.raises(UnsafePathError):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside", "../.."])
def test_tar_symlink_out_is_refused(tmp_path: Path, target: str) -> None:
    archive = make_tar(tmp_path / "bad.tar.gz", [link_entry("top/link", target)])
    with pytest.raises(UnsafePathError, match="link"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "top" / "link").is_symlink()


def test_tar_write_through_a_link_is_refused(tmp_path: Path) -> None:
    # The classic two-step: a link to a folder outside, then a file "inside" the link.
    archive = make_tar(tmp_path / "bad.tar.gz", [link_entry("up", ".."), file_entry("up/evil.txt")],
                       {"up/evil.txt": b"x"})
    with pytest.raises(UnsafePathError):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_tar_hard_link_and_devices_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "hard.tar.gz", [link_entry("top/h", "top/x", tarfile.LNKTYPE)])
    with pytest.raises(UnsafePathError, match="hard link"):
        unpack(archive, tmp_path / "out1")
    device = tarfile.TarInfo("top/dev")
    device.type = tarfile.CHRTYPE
    archive = make_tar(tmp_path / "dev.tar.gz", [device])
    with pytest.raises(UnsafePathError, match="special file"):
        unpack(archive, tmp_path / "out2")


def test_zip_traversal_and_links_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(UnsafePathError):
        unpack(bad, tmp_path / "out1")
    assert not (tmp_path / "evil.txt").exists()
    linked = tmp_path / "link.zip"
    with zipfile.ZipFile(linked, "w") as zf:
        info = zipfile.ZipInfo("top/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafePathError, match="link"):
        unpack(linked, tmp_path / "out2")


def test_good_zip_keeps_exec_bit(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        info = zipfile.ZipInfo("bin/llama-server")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, b"#!/bin/sh\n")
        zf.writestr("bin/readme.txt", b"r")
    dest = unpack(good, tmp_path / "out")
    assert (dest / "bin" / "llama-server").stat().st_mode & stat.S_IXUSR
    assert not (dest / "bin" / "readme.txt").stat().st_mode & stat.S_IXUSR


def test_damaged_and_unknown_archives(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(LlamaRuntimeError, match="damaged"):
        unpack(damaged, tmp_path / "out1")
    odd = tmp_path / "thing.rar"
    odd.write_bytes(b"x")
    with pytest.raises(LlamaRuntimeError, match="unpack"):
        unpack(odd, tmp_path / "out2")
