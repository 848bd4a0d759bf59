"""Source trees: local folders, the official archive (verified by content), downloads with checksums."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from llama_wrangler.errors import ChecksumMismatchError, DownloadError, LlamaRuntimeError
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.runtime import fetch, sources
from llama_wrangler.runtime.pinned import PINNED, PinnedLlamaCpp
from tests.support.static_http import static_server


def fake_tree(root: Path) -> Path:
    """The files a build needs, with made-up content (so it is *not* the pinned tree)."""
    for rel in ("CMakeLists.txt", "convert_hf_to_gguf.py", "tools/server/server.cpp",
                "tools/quantize/quantize.cpp", "gguf-py/gguf/__init__.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    return root


def tar_of(tree: Path, top: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tree, arcname=top)
    return buffer.getvalue()


def test_local_tree_that_differs_is_marked_unpinned(tmp_path: Path) -> None:
    tree = sources.from_local(fake_tree(tmp_path / "llama.cpp"))
    assert tree.kind is sources.SourceKind.LOCAL
    assert not tree.pinned and "not the pinned tree" in tree.description


def test_local_unpacked_sdist_is_accepted(tmp_path: Path) -> None:
    fake_tree(tmp_path / "sdist" / "vendor" / "llama.cpp")
    tree = sources.from_local(tmp_path / "sdist")
    assert tree.path == (tmp_path / "sdist" / "vendor" / "llama.cpp").resolve()


def test_local_folder_that_is_not_llama_cpp(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(LlamaRuntimeError, match=r"not a llama\.cpp source tree"):
        sources.from_local(tmp_path / "x")


def test_pin_check_by_key_files(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path / "t")
    digests = {rel: hashlib.sha256((tree / rel).read_bytes()).hexdigest()
               for rel in ("CMakeLists.txt", "tools/server/server.cpp")}
    pin = PinnedLlamaCpp(commit="0" * 40, build_number=1, llama_cpp_python_version="0", sdist_sha256="0",
                         key_files=digests)
    assert sources.tree_matches_pin(tree, pin) == []
    (tree / "tools/server/server.cpp").write_text("changed")
    assert sources.tree_matches_pin(tree, pin) == ["tools/server/server.cpp"]
    assert sources.tree_matches_pin(tree) == list(PINNED.key_files)


def test_archive_that_is_not_the_pinned_tree_is_refused(tmp_path: Path) -> None:
    body = tar_of(fake_tree(tmp_path / "t"), "llama.cpp-b11312")
    with static_server({"/src.tar.gz": (200, "application/gzip", body)}) as server:
        with pytest.raises(LlamaRuntimeError, match=r"is not llama\.cpp b11312"):
            sources.from_archive(server.url("/src.tar.gz"), tmp_path / "work")
        with pytest.raises(DownloadError, match="404"):
            sources.from_archive(server.url("/missing.tar.gz"), tmp_path / "work2")


def test_download_checks_sha_and_reports_progress(tmp_path: Path) -> None:
    body = b"x" * 300_000
    good = hashlib.sha256(body).hexdigest()
    reports: list[Progress] = []
    with static_server({"/f.bin": (200, "application/octet-stream", body)}) as server:
        target = fetch.download(server.url("/f.bin"), tmp_path / "f.bin", sha256=good, progress=reports.append)
        assert target.read_bytes() == body
        assert reports[-1].done == len(body) and reports[-1].total == len(body)
        with pytest.raises(ChecksumMismatchError):
            fetch.download(server.url("/f.bin"), tmp_path / "g.bin", sha256="0" * 64)
        assert not (tmp_path / "g.bin").exists() and not (tmp_path / "g.bin.part").exists()
        token = CancelToken()
        token.cancel()
        with pytest.raises(Exception, match="Cancelled"):
            fetch.download(server.url("/f.bin"), tmp_path / "h.bin", cancel=token)
        assert not (tmp_path / "h.bin").exists()


def test_unreachable_host_fails_fast_with_a_network_error(tmp_path: Path) -> None:
    with static_server() as server:
        url = server.url("/x")
    # The server is gone: connection refused, reported as a DownloadError naming the URL.
    with pytest.raises(DownloadError, match="Could not download"):
        fetch.download(url, tmp_path / "x")
