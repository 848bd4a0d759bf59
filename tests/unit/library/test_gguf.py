"""The GGUF header reader: real files from gguf's writer, compared with gguf.GGUFReader, and hostile bytes."""

from __future__ import annotations

import os
import struct
import tracemalloc
from pathlib import Path

import gguf
import numpy as np
import pytest

from llama_wrangler.errors import GGUFError
from llama_wrangler.library.gguf import read_gguf, read_gguf_set
from tests.support.gguf_files import write_gguf, write_split_gguf

# ---- hand-made bytes ----------------------------------------------------------------------------------


def header(version: int = 3, tensors: int = 0, kvs: int = 0, magic: bytes = b"GGUF") -> bytes:
    return magic + struct.pack("<IQQ", version, tensors, kvs)


def gstr(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + data


def kv(key: bytes, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", vtype) + payload


def write(tmp_path: Path, data: bytes, name: str = "m.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(GGUFError) as caught:
        read_gguf(path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# ---- real files -----------------------------------------------------------------------------------------


def test_reads_what_the_gguf_writer_wrote(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "tiny.gguf", kv={
        "general.name": "Tiny Llama", "general.size_label": "1.1B",
        "tokenizer.chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}",
        "llama.context_length": (8192, gguf.GGUFValueType.UINT32),
    }, vocab_size=1000)
    info = read_gguf(path)
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.name == "Tiny Llama"
    assert info.size_label == "1.1B"
    assert info.parameter_label == "1.1B"
    assert info.file_type == 15
    assert info.quant == "Q4_K_M"
    assert info.context_length == 8192
    assert info.block_count == 2
    assert info.embedding_length == 64
    assert (info.head_count, info.head_count_kv) == (4, 2)
    assert info.vocab_size == 1000
    assert info.has_chat_template
    assert info.tensor_count == 2
    assert info.parameter_count == 8 * 4 + 4
    assert (info.split_no, info.split_count) == (0, 1)
    assert info.alignment == 32
    assert info.header_size % 32 == 0


def test_agrees_with_gguf_reader(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", arch="qwen2", name="Agree", vocab_size=500,
                      tensors={"a": np.zeros((16, 8), dtype=np.float16), "b": np.zeros((3,), dtype=np.float32)})
    ours = read_gguf(path)
    theirs = gguf.GGUFReader(path)
    assert ours.kv_count == len([f for f in theirs.fields if not f.startswith("GGUF.")])
    assert ours.tensor_count == len(theirs.tensors)
    assert ours.architecture == theirs.fields["general.architecture"].contents()
    assert ours.name == theirs.fields["general.name"].contents()
    assert ours.parameter_count == sum(int(t.n_elements) for t in theirs.tensors)
    assert ours.vocab_size == len(theirs.fields["tokenizer.ggml.tokens"].data)
    assert ours.header_size == theirs.data_offset


def test_quant_falls_back_to_the_dominant_tensor_type(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", kv={"general.file_type": None},
                      tensors={"big": np.zeros((32, 32), dtype=np.float16), "small": np.zeros((4, 4), np.float32)})
    info = read_gguf(path)
    assert info.file_type is None
    assert info.quant == "F16"


def test_parameter_count_without_size_label(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", tensors={"w": np.zeros((1000, 1200), dtype=np.float16)})
    info = read_gguf(path)
    assert info.size_label is None
    assert info.parameter_count == 1_200_000
    assert info.parameter_label == "1.2M"


def test_split_set_is_read_as_one_model(tmp_path: Path) -> None:
    files = write_split_gguf(tmp_path / "big.gguf", 3, vocab_size=100)
    info = read_gguf_set(files)
    assert info.split_count == 3
    assert info.tensor_count == 3
    assert info.parameter_count == 3 * 16
    assert read_gguf(files[1]).split_no == 1


def test_long_strings_are_skipped_but_counted(tmp_path: Path) -> None:
    template = "x" * 100_000
    path = write_gguf(tmp_path / "m.gguf", kv={"tokenizer.chat_template": template})
    info = read_gguf(path)
    assert info.has_chat_template
    assert "tokenizer.chat_template" not in info.metadata
    assert info.value_lengths["tokenizer.chat_template"] == len(template)


def test_small_arrays_are_kept_and_per_layer_head_counts_use_the_largest(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", kv={"llama.attention.head_count": [4, 8, 6]})
    info = read_gguf(path)
    assert info.metadata["llama.attention.head_count"] == [4, 8, 6]
    assert info.head_count == 8


def test_truncated_anywhere_is_an_error(tmp_path: Path) -> None:
    good = write_gguf(tmp_path / "good.gguf", vocab_size=50, kv={"general.name": "T"}).read_bytes()
    info = read_gguf(tmp_path / "good.gguf")
    cut = tmp_path / "cut.gguf"
    # Every byte of the header, then a few points inside tensor data.
    offsets = [*range(0, info.header_size), info.header_size + 1, len(good) - 17]
    cut.write_bytes(good)
    for offset in sorted(offsets, reverse=True):
        os.truncate(cut, offset)  # shrinking in place is far cheaper than writing a file per offset
        with pytest.raises(GGUFError):
            read_gguf(cut)


def test_truncated_tensor_data_names_the_sizes(tmp_path: Path) -> None:
    good = write_gguf(tmp_path / "good.gguf").read_bytes()
    path = write(tmp_path, good[:-17])  # the last 16 bytes are alignment padding
    expect_error(path, "truncated", "incomplete download")


# ---- hostile headers ------------------------------------------------------------------------------------


def test_wrong_magic(tmp_path: Path) -> None:
    expect_error(write(tmp_path, header(magic=b"GGML")), "not a GGUF file", "GGML")


def test_empty_and_tiny_files(tmp_path: Path) -> None:
    expect_error(write(tmp_path, b""), "not a GGUF file")
    expect_error(write(tmp_path, b"GGUF\x03"), "truncated")


def test_big_endian(tmp_path: Path) -> None:
    data = b"GGUF" + struct.pack(">IQQ", 3, 0, 0)
    expect_error(write(tmp_path, data), "big-endian")


@pytest.mark.parametrize(("version", "fragment"), [(1, "version 1 is too old"), (4, "unsupported GGUF version 4")])
def test_unsupported_versions(tmp_path: Path, version: int, fragment: str) -> None:
    expect_error(write(tmp_path, header(version=version)), fragment)


def test_version_2_is_read(tmp_path: Path) -> None:
    data = header(version=2, kvs=1) + kv(b"general.architecture", 8, gstr(b"llama"))
    assert read_gguf(write(tmp_path, data)).architecture == "llama"


def test_huge_string_length(tmp_path: Path) -> None:
    data = header(kvs=1) + gstr(b"general.name") + struct.pack("<I", 8) + struct.pack("<Q", 2**63) + b"abc"
    tracemalloc.start()
    try:
        expect_error(write(tmp_path, data), "general.name", str(2**63), "bytes remain")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_huge_key_length(tmp_path: Path) -> None:
    data = header(kvs=1) + struct.pack("<Q", 2**62) + b"x" * 20
    expect_error(write(tmp_path, data), "key of metadata entry 0", "bytes remain")


def test_huge_array_count(tmp_path: Path) -> None:
    for element_type in (4, 8):  # uint32 array, string array
        data = header(kvs=1) + gstr(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, element_type, 2**60)
        expect_error(write(tmp_path, data + b"\0" * 64), "tokenizer.ggml.tokens", str(2**60))


def test_hostile_length_inside_a_vocabulary(tmp_path: Path) -> None:
    items = b"".join(gstr(f"t{i}".encode()) for i in range(100))
    items += struct.pack("<Q", 2**63 - 1) + b"zz"
    items += b"".join(gstr(b"x") for _ in range(100))
    data = header(kvs=1) + gstr(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 201) + items
    expect_error(write(tmp_path, data), "tokenizer.ggml.tokens", "past the end")


def test_huge_tensor_and_kv_counts(tmp_path: Path) -> None:
    expect_error(write(tmp_path, header(tensors=2**62) + b"\0" * 100), "claims 4611686018427387904 tensors")
    expect_error(write(tmp_path, header(kvs=2**40) + b"\0" * 100), "1099511627776 metadata entries")


def test_unknown_value_type(tmp_path: Path) -> None:
    data = header(kvs=1) + kv(b"general.weird", 99, b"\0" * 16)
    expect_error(write(tmp_path, data), "general.weird", "unknown value type 99")


def test_unknown_array_element_type(tmp_path: Path) -> None:
    data = header(kvs=1) + gstr(b"general.list") + struct.pack("<IIQ", 9, 77, 1) + b"\0" * 16
    expect_error(write(tmp_path, data), "general.list", "unknown element type 77")


def test_nested_arrays_are_refused(tmp_path: Path) -> None:
    inner = struct.pack("<IQ", 4, 1) + struct.pack("<I", 7)
    data = header(kvs=1) + gstr(b"general.nested") + struct.pack("<IIQ", 9, 9, 1) + inner
    expect_error(write(tmp_path, data), "general.nested", "nested arrays")


def test_non_utf8_key(tmp_path: Path) -> None:
    data = header(kvs=1) + kv(b"general.\xff\xfe", 4, struct.pack("<I", 1))
    expect_error(write(tmp_path, data), "not UTF-8")


def test_duplicate_key(tmp_path: Path) -> None:
    entry = kv(b"general.name", 8, gstr(b"a"))
    expect_error(write(tmp_path, header(kvs=2) + entry + entry), "appears twice")


def test_too_many_dimensions_and_absurd_shapes(tmp_path: Path) -> None:
    tensor = gstr(b"t") + struct.pack("<I", 5) + struct.pack("<5Q", 1, 1, 1, 1, 1) + struct.pack("<IQ", 0, 0)
    expect_error(write(tmp_path, header(tensors=1) + tensor), "5 dimensions")
    tensor = gstr(b"t") + struct.pack("<I", 2) + struct.pack("<2Q", 2**40, 2**40) + struct.pack("<IQ", 0, 0)
    expect_error(write(tmp_path, header(tensors=1) + tensor + b"\0" * 64), "elements")


def test_bad_alignment(tmp_path: Path) -> None:
    data = header(kvs=1) + kv(b"general.alignment", 4, struct.pack("<I", 3))
    expect_error(write(tmp_path, data), "power of two")


def test_a_directory_or_missing_file_is_a_gguf_error(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="Cannot read"):
        read_gguf(tmp_path / "absent.gguf")


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_tiny_read_chunks_give_the_same_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               chunk: int) -> None:
    # Every value then straddles a buffer boundary somewhere: the refill logic must not change results.
    path = write_gguf(tmp_path / "m.gguf", vocab_size=300, kv={"tokenizer.chat_template": "t" * 5000,
                                                               "general.tags": ["a", "bb", "ccc"]})
    expected = read_gguf(path)
    monkeypatch.setattr("llama_wrangler.library.gguf_reader.CHUNK", chunk)
    assert read_gguf(path) == expected


def test_vocabulary_larger_than_one_read_chunk(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", vocab_size=40_000,
                      tensors={"w": np.zeros((10, 10), dtype=np.float32)})
    info = read_gguf(path)
    assert info.vocab_size == 40_000
    assert info.parameter_count == 100  # tensor infos come after the vocabulary
    assert info.header_size > 256 * 1024


def test_absurdly_long_key_is_refused_without_reading_it(tmp_path: Path) -> None:
    data = header(kvs=1) + gstr(b"k" * 200_000) + struct.pack("<I", 4) + struct.pack("<I", 1)
    expect_error(write(tmp_path, data), "key of metadata entry 0", "200000 bytes long")


def test_small_array_with_a_huge_string_keeps_only_its_length(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", kv={"general.tags": ["short", "x" * 100_000]})
    info = read_gguf(path)
    assert "general.tags" not in info.metadata
    assert info.value_lengths["general.tags"] == 2
