"""``registry.json`` on disk: read entry by entry, written atomically.

One malformed model entry does not cost the others: :func:`read_registry` returns it as a
:class:`~llama_wrangler.kept_aside.BadEntry` beside the records it could read. Only a file that is not a
registry at all (not JSON, not the expected top-level shape) raises :class:`NotARegistryError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_wrangler.atomic import write_bytes_atomic
from llama_wrangler.errors import RegistryError
from llama_wrangler.kept_aside import BadEntry, describe
from llama_wrangler.library.gguf import INFO_VERSION
from llama_wrangler.library.records import BadLoadSettingsError, FileStat, ModelRecord

SCHEMA_VERSION = 1


class NotARegistryError(Exception):
    """The file is not a model registry at all; its message says why."""


@dataclass(frozen=True)
class RegistryContents:
    records: list[ModelRecord]
    ignored: set[str]  # owned files the user removed but kept: rescans skip them
    info_version: int | None  # the header reader that wrote the records' infos
    bad: list[BadEntry]  # model entries that could not be read (left out of ``records``)
    reset: list[BadEntry] = field(default_factory=list)  # kept, with default load settings instead of these


def read_registry(path: Path) -> RegistryContents | None:
    """The registry at ``path``; None when there is none yet. Raises RegistryError when it cannot be
    read or a newer version wrote it, NotARegistryError when it is not a registry."""
    try:
        raw_text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RegistryError(f"Cannot read the model registry {path}: {exc.strerror or exc}.") from exc
    try:
        raw: Any = json.loads(raw_text)
    except ValueError as exc:
        raise NotARegistryError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise NotARegistryError("not a JSON object")
    version = raw.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise RegistryError(f"The model registry {path} was written by a newer version of Llama "
                            f"Wrangler (schema {version}); this version reads schema "
                            f"{SCHEMA_VERSION}. Update the app.")
    models, ignored = raw.get("models"), raw.get("ignored", [])
    if not isinstance(models, list):
        raise NotARegistryError("no list of models")
    if not isinstance(ignored, list):
        raise NotARegistryError("'ignored' is not a list")
    records: list[ModelRecord] = []
    bad: list[BadEntry] = []
    reset: list[BadEntry] = []
    for position, item in enumerate(models, 1):
        try:
            if not isinstance(item, dict):
                raise TypeError("not a JSON object")
            try:
                records.append(ModelRecord.from_dict(item))
            except BadLoadSettingsError as exc:  # the model is fine: keep it, with default load settings
                records.append(ModelRecord.from_dict({k: v for k, v in item.items() if k != "load"}))
                reset.append(BadEntry(_label(item, position), str(exc), item))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            bad.append(BadEntry(_label(item, position), _reason(exc), item))
    info_version = raw.get("info_version")
    return RegistryContents(records, {str(p) for p in ignored},
                            info_version if isinstance(info_version, int) else None, bad, reset)


def write_registry(path: Path, records: Iterable[ModelRecord], ignored: Iterable[str]) -> FileStat | None:
    """Write the registry atomically; returns the written file's (size, mtime). Raises RegistryError."""
    # One model per line, each through json's C encoder: ``indent=`` would switch json to its
    # pure-Python encoder, which made saving a 1,000-model registry take seconds.
    models = ",\n".join(json.dumps(r.to_dict(), ensure_ascii=False) for r in records)
    text = (f'{{"schema_version": {SCHEMA_VERSION}, "info_version": {INFO_VERSION},\n'
            f'"models": [\n{models}\n],\n'
            f'"ignored": {json.dumps(sorted(ignored), ensure_ascii=False)}}}\n')
    try:
        write_bytes_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise RegistryError(f"Cannot save the model registry {path}: {exc.strerror or exc}.") from exc
    return stat_of(path)


def stat_of(path: Path) -> FileStat | None:
    """(size, mtime) of the registry file: how we notice another process changed it."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def left_out_problem(bad: list[BadEntry], kept: Path, *, loaded: int) -> str:
    """What the user is told when unreadable entries were left out and kept in ``kept``."""
    return (f"{_count(len(bad), 'model entry', 'model entries')} in the registry could not be read and "
            f"{'was' if len(bad) == 1 else 'were'} left out: {describe(bad)}. The entries are kept in "
            f"{kept.name}; the other {_count(loaded, 'model', 'models')} loaded as before.")


def reset_problem(reset: list[BadEntry], kept: Path) -> str:
    """What the user is told when models were kept but their unreadable load settings were reset."""
    return (f"The load settings of {_count(len(reset), 'model', 'models')} could not be read and "
            f"{'were' if len(reset) != 1 else 'was'} reset to the defaults: {describe(reset)}. The entries as "
            f"they were are kept in {kept.name}.")


def rebuilt_problem(exc: Exception, aside: Path, *, found: int) -> str:
    """What the user is told when the whole file was moved to ``aside`` and the library rebuilt."""
    return (f"The model registry was unreadable ({exc}); it was kept as {aside.name} and rebuilt from the "
            f"models folder ({found} models found). Models linked in place from elsewhere are not in the "
            "rebuilt library: import them again.")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _label(item: object, position: int) -> str:
    """What the user knows the entry by: its id, else its first file, else its place in the file."""
    if isinstance(item, dict):
        if isinstance(item.get("id"), str) and item["id"]:
            return str(item["id"])
        paths = item.get("paths")
        if isinstance(paths, list) and paths and isinstance(paths[0], str):
            return paths[0]
    return f"model entry {position}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
