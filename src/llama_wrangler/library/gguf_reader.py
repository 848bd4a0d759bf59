"""The GGUF reader's byte level: a buffered, bounds-checked window onto the file, and the metadata value
readers (scalars, strings, arrays) that use it.

Every count and length is checked against the bytes left in the file before anything is allocated; big
arrays and long strings are skipped by length, never decoded (see :mod:`.gguf` for the header itself).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from llama_wrangler.errors import GGUFError

MetaValue = str | int | float | bool | list[Any]

CHUNK = 256 * 1024
# Strings longer than this are skipped (seek) rather than read; they only matter to us as "present".
MAX_KEPT_STRING = 4096
# A string read whole for what it says (a chat template: tens of KiB at most), though not kept
MAX_WHOLE_STRING = 1024 * 1024
# Keys and tensor names longer than this are refused (llama.cpp caps tensor names at 64 bytes).
MAX_NAME = 64 * 1024
# Arrays up to this many elements are decoded into ``metadata`` (per-layer head counts, small lists).
MAX_KEPT_ARRAY = 64

# GGUF value types -> (struct format, size) for the fixed-size ones.
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY, _UINT64, _INT64, \
    _FLOAT64 = range(13)
_SCALARS: dict[int, struct.Struct] = {
    _UINT8: struct.Struct("<B"), _INT8: struct.Struct("<b"), _UINT16: struct.Struct("<H"),
    _INT16: struct.Struct("<h"), _UINT32: struct.Struct("<I"), _INT32: struct.Struct("<i"),
    _FLOAT32: struct.Struct("<f"), _BOOL: struct.Struct("<?"), _UINT64: struct.Struct("<Q"),
    _INT64: struct.Struct("<q"), _FLOAT64: struct.Struct("<d"),
}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class GGUFBuffer:
    """A forward-only window onto the file. ``pos`` is absolute; ``buf`` holds [start, start+len)."""

    __slots__ = ("buf", "file", "path", "pos", "size", "start")

    def __init__(self, file: BinaryIO, size: int, path: Path) -> None:
        self.file = file
        self.size = size
        self.path = path
        self.start = 0
        self.buf = file.read(max(CHUNK, 64))  # the fixed header always fits in the first read
        self.pos = 0

    def need(self, count: int, what: str) -> int:
        """Make ``count`` bytes at ``pos`` available; return their index into ``buf``."""
        rel = self.pos - self.start
        if rel >= 0 and rel + count <= len(self.buf):
            return rel
        if self.pos + count > self.size:
            raise GGUFError(f"{self.path.name}: the file is truncated — {what} at byte {self.pos} needs "
                            f"{count} bytes but the file ends at byte {self.size}.")
        if 0 <= rel < len(self.buf):
            tail = self.buf[rel:]
        else:
            tail = b""
            self.file.seek(self.pos)
        more = self.file.read(max(CHUNK, count - len(tail)))
        self.buf = tail + more
        self.start = self.pos
        if len(self.buf) < count:  # the file shrank while we read it
            raise GGUFError(f"{self.path.name}: the file is truncated — {what} at byte {self.pos}.")
        return 0

    def remaining(self) -> int:
        return self.size - self.pos

    def u32(self, what: str) -> int:
        rel = self.need(4, what)
        self.pos += 4
        value: int = _U32.unpack_from(self.buf, rel)[0]
        return value

    def u64(self, what: str) -> int:
        rel = self.need(8, what)
        self.pos += 8
        value: int = _U64.unpack_from(self.buf, rel)[0]
        return value

    def raw_string(self, what: str) -> bytes:
        """A key or tensor name: short by nature, so a long one is an error rather than a big read."""
        length = self.u64(f"the length of {what}")
        self._check_length(length, what)
        if length > MAX_NAME:
            raise GGUFError(f"{self.path.name}: {what} is {length} bytes long (at most {MAX_NAME}).")
        rel = self.need(length, what)
        self.pos += length
        return self.buf[rel:rel + length]

    def _check_length(self, length: int, what: str) -> None:
        if length > self.remaining():
            raise GGUFError(f"{self.path.name}: {what} claims {length} bytes at byte {self.pos}, but only "
                            f"{self.remaining()} bytes remain in the file.")

    def string_or_skip(self, what: str, limit: int = MAX_KEPT_STRING) -> tuple[str | None, int]:
        """Read a string value; skip (seek past) one longer than ``limit``. Returns (text, length)."""
        length = self.u64(f"the length of {what}")
        self._check_length(length, what)
        if length > limit:
            self.pos += length
            return None, length
        rel = self.need(length, what)
        self.pos += length
        return self.buf[rel:rel + length].decode("utf-8", errors="replace"), length

    def skip_strings(self, count: int, what: str) -> None:
        """Walk ``count`` length-prefixed strings without decoding them (the vocabulary fast path).

        The loop is the hot spot of a scan (32k-150k iterations per model), so it does one bounds check
        per element; a hostile length just moves ``rel`` past the buffer, and the refill then finds the
        position beyond the end of the file and stops.
        """
        unpack = _U64.unpack_from
        buf, start = self.buf, self.start
        rel = self.pos - start
        end = len(buf)
        for index in range(count):
            if rel + 8 > end:
                self.pos = start + rel
                if self.pos > self.size:
                    raise GGUFError(f"{self.path.name}: {what} runs past the end of the file (element "
                                    f"{index - 1} of {count} ends at byte {self.pos}, the file has "
                                    f"{self.size} bytes).")
                rel = self.need(8, f"element {index} of {what}")
                buf, start, end = self.buf, self.start, len(self.buf)
            rel += 8 + unpack(buf, rel)[0]
        self.pos = start + rel
        if self.pos > self.size:
            raise GGUFError(f"{self.path.name}: {what} runs past the end of the file (its last element ends "
                            f"at byte {self.pos}, the file has {self.size} bytes).")


def read_value(reader: GGUFBuffer, key: str, value_type: int, metadata: dict[str, MetaValue],
                value_lengths: dict[str, int], whole: dict[str, str] | None = None) -> None:
    """Read one metadata value into ``metadata`` (or, for a long one, its length into ``value_lengths``).
    ``whole``: the caller's keys (seeded with ``""``) whose string values are read up to MAX_WHOLE_STRING,
    however long, and put there (only the length still goes to ``value_lengths`` when long)."""
    scalar = _SCALARS.get(value_type)
    if scalar is not None:
        rel = reader.need(scalar.size, f"the value of {key!r}")
        reader.pos += scalar.size
        metadata[key] = scalar.unpack_from(reader.buf, rel)[0]
    elif value_type == _STRING:
        wanted = whole is not None and key in whole
        text, length = reader.string_or_skip(f"the value of {key!r}",
                                             MAX_WHOLE_STRING if wanted else MAX_KEPT_STRING)
        if text is not None and whole is not None and wanted:
            whole[key] = text
        if text is not None and length <= MAX_KEPT_STRING:
            metadata[key] = text
        else:
            value_lengths[key] = length  # a long string: we keep how long it was, not the text
    elif value_type == _ARRAY:
        element_type = reader.u32(f"the element type of {key!r}")
        count = reader.u64(f"the length of {key!r}")
        value_lengths[key] = count
        _read_array(reader, key, element_type, count, metadata)
    else:
        raise GGUFError(f"{reader.path.name}: the metadata key {key!r} has an unknown value type "
                        f"{value_type} at byte {reader.pos - 4}.")


def _read_array(reader: GGUFBuffer, key: str, element_type: int, count: int,
                metadata: dict[str, MetaValue]) -> None:
    scalar = _SCALARS.get(element_type)
    if scalar is not None:
        total = count * scalar.size
        if total > reader.remaining():
            raise GGUFError(f"{reader.path.name}: the array {key!r} claims {count} elements "
                            f"({total} bytes) but only {reader.remaining()} bytes remain in the file.")
        if count <= MAX_KEPT_ARRAY:
            rel = reader.need(total, f"the array {key!r}")
            metadata[key] = [scalar.unpack_from(reader.buf, rel + i * scalar.size)[0] for i in range(count)]
        reader.pos += total  # skip by length: nothing is read when it lies beyond the buffer
    elif element_type == _STRING:
        if count * 8 > reader.remaining():
            raise GGUFError(f"{reader.path.name}: the array {key!r} claims {count} strings but only "
                            f"{reader.remaining()} bytes remain in the file.")
        if count <= MAX_KEPT_ARRAY:
            items = [reader.string_or_skip(f"element {i} of {key!r}")[0] for i in range(count)]
            if all(item is not None for item in items):  # a very long element: keep only the length
                metadata[key] = items
        else:
            reader.skip_strings(count, f"the array {key!r}")
    elif element_type == _ARRAY:
        # llama.cpp itself cannot load nested arrays; refusing them also bounds the recursion.
        raise GGUFError(f"{reader.path.name}: the metadata key {key!r} holds nested arrays, which GGUF "
                        "models do not use.")
    else:
        raise GGUFError(f"{reader.path.name}: the array {key!r} has an unknown element type {element_type}.")
