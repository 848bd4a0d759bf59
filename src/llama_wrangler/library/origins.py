"""Where a model came from: its :class:`ModelSource` and a typed origin per kind of source.

``registry.json`` stores the source as its string value and the origin as a flat JSON object. Registries
written before the origins were typed held every value as a string (a split set's files comma-joined);
:func:`origin_from_dict` reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from llama_wrangler.settings import ImportMode


class ModelSource(StrEnum):
    """How a model entered the library. The values are what ``registry.json`` stores."""

    LOCAL = "local"  # found in the models folder by a rescan
    IMPORT = "import"  # imported by the user: copied, moved, hard-linked or linked in place
    HF = "hf"  # pulled from the Hugging Face Hub
    OLLAMA = "ollama"  # pulled from an Ollama registry, or linked from Ollama's own store
    CONVERT = "convert"  # converted from safetensors, or re-quantized, here
    HF_CACHE = "hf-cache"  # linked from the Hugging Face cache
    LMSTUDIO = "lmstudio"  # linked from LM Studio's models folder

    @property
    def words(self) -> str:
        """The source as a person reads it (the GUI's Source column)."""
        return _WORDS[self]


_WORDS = {ModelSource.LOCAL: "Local", ModelSource.IMPORT: "Imported", ModelSource.HF: "Hugging Face",
          ModelSource.OLLAMA: "Ollama", ModelSource.CONVERT: "Converted", ModelSource.HF_CACHE: "HF cache",
          ModelSource.LMSTUDIO: "LM Studio"}


@dataclass(frozen=True)
class HfOrigin:
    """A file set of a Hugging Face repo (a pull, or a link into the Hugging Face cache)."""

    repo: str
    revision: str  # the commit the files were taken from
    files: tuple[str, ...]  # paths in the repo, shard 1 first
    quant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _without_none({"repo": self.repo, "revision": self.revision, "files": list(self.files),
                              "quant": self.quant})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HfOrigin:
        files = _strings(data.get("files")) or (_required(data, "file"),)
        return cls(repo=_required(data, "repo"), revision=_required(data, "revision"), files=files,
                   quant=_optional(data, "quant"))

    def rows(self) -> list[tuple[str, str]]:
        rows = [("repo", self.repo), ("revision", self.revision), ("file", self.files[0])]
        if len(self.files) > 1:
            rows.append(("files", ", ".join(self.files)))
        return rows + _present([("quant", self.quant)])


@dataclass(frozen=True)
class OllamaOrigin:
    """A model pulled from an Ollama registry, with the manifest's small text layers."""

    registry: str  # the registry's base URL
    namespace: str
    model: str
    tag: str
    digest: str  # the model layer's digest, ``sha256:<hex>``
    template: str | None = None
    params: str | None = None
    system: str | None = None
    license: str | None = None
    projector_digest: str | None = None  # a vision projector layer (not downloaded)

    def to_dict(self) -> dict[str, Any]:
        return _without_none({"registry": self.registry, "namespace": self.namespace, "model": self.model,
                              "tag": self.tag, "digest": self.digest, "template": self.template,
                              "params": self.params, "system": self.system, "license": self.license,
                              "projector_digest": self.projector_digest})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OllamaOrigin:
        return cls(registry=_required(data, "registry"), namespace=_required(data, "namespace"),
                   model=_required(data, "model"), tag=_required(data, "tag"), digest=_required(data, "digest"),
                   template=_optional(data, "template"), params=_optional(data, "params"),
                   system=_optional(data, "system"), license=_optional(data, "license"),
                   projector_digest=_optional(data, "projector_digest"))

    def rows(self) -> list[tuple[str, str]]:
        return [(key, value) for key, value in self.to_dict().items() if isinstance(value, str)]


@dataclass(frozen=True)
class StoreOrigin:
    """A model linked in place from another tool's store (Ollama's, LM Studio's), named as that tool
    names it: an Ollama ``model:tag``, or a path under LM Studio's models folder."""

    name: str
    digest: str | None = None  # when the store names its files by content (Ollama)

    def to_dict(self) -> dict[str, Any]:
        return _without_none({"name": self.name, "digest": self.digest})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoreOrigin:
        # Older registries keyed the name by the store: {"ollama": ...} or {"lmstudio": ...}.
        for key in ("name", ModelSource.OLLAMA.value, ModelSource.LMSTUDIO.value):
            if key in data:
                return cls(name=_required(data, key), digest=_optional(data, "digest"))
        raise ValueError("origin: no store name")

    def rows(self) -> list[tuple[str, str]]:
        return _present([("name", self.name), ("digest", self.digest)])


@dataclass(frozen=True)
class ImportOrigin:
    """A file the user imported, and how."""

    imported_from: str  # the file's absolute path when it was imported
    mode: ImportMode

    def to_dict(self) -> dict[str, Any]:
        return {"imported_from": self.imported_from, "mode": self.mode.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportOrigin:
        return cls(imported_from=_required(data, "imported_from"), mode=ImportMode(_required(data, "mode")))

    def rows(self) -> list[tuple[str, str]]:
        return [("imported_from", self.imported_from), ("mode", self.mode.value)]


@dataclass(frozen=True)
class ConvertOrigin:
    """A GGUF made here: converted from a Hub repo or a local folder, or re-quantized from a GGUF."""

    quant: str | None = None
    outtype: str | None = None  # the intermediate's type (f16, bf16); None for a re-quantization
    repo: str | None = None  # a Hub repo converted: its id, commit and safetensors files
    revision: str | None = None
    files: tuple[str, ...] = ()
    folder: str | None = None  # a local folder converted
    base: str | None = None  # the GGUF re-quantized: a library id or a path

    def to_dict(self) -> dict[str, Any]:
        return _without_none({"quant": self.quant, "outtype": self.outtype, "repo": self.repo,
                              "revision": self.revision, "files": list(self.files) or None,
                              "folder": self.folder, "from": self.base})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConvertOrigin:
        return cls(quant=_optional(data, "quant"), outtype=_optional(data, "outtype"),
                   repo=_optional(data, "repo"), revision=_optional(data, "revision"),
                   files=_strings(data.get("files")), folder=_optional(data, "folder"),
                   base=_optional(data, "from"))

    def rows(self) -> list[tuple[str, str]]:
        return _present([("quant", self.quant), ("outtype", self.outtype), ("repo", self.repo),
                         ("revision", self.revision), ("files", ", ".join(self.files) or None),
                         ("folder", self.folder), ("from", self.base)])


Origin = HfOrigin | OllamaOrigin | StoreOrigin | ImportOrigin | ConvertOrigin

# The origin types each source may carry (a LOCAL model has none).
ORIGIN_TYPES: dict[ModelSource, tuple[type[Origin], ...]] = {
    ModelSource.LOCAL: (),
    ModelSource.IMPORT: (ImportOrigin,),
    ModelSource.HF: (HfOrigin,),
    ModelSource.OLLAMA: (OllamaOrigin, StoreOrigin),
    ModelSource.CONVERT: (ConvertOrigin,),
    ModelSource.HF_CACHE: (HfOrigin,),
    ModelSource.LMSTUDIO: (StoreOrigin,),
}


def origin_rows(origin: Origin | None) -> list[tuple[str, str]]:
    """(field, value) pairs to show for an origin, in the origin's order; none for no origin."""
    return [] if origin is None else origin.rows()


def check_origin(source: ModelSource, origin: Origin | None) -> None:
    """Raise TypeError when ``origin`` is not a kind ``source`` carries (it could not be read back)."""
    if origin is not None and not isinstance(origin, ORIGIN_TYPES[source]):
        raise TypeError(f"a {source.value!r} model cannot have a {type(origin).__name__}")


def origin_from_dict(source: ModelSource, data: object) -> Origin | None:
    """The origin stored for a model of ``source``; None when there is none. Raises ValueError when it
    does not have the shape its source's origin has."""
    if data is None or data == {}:
        return None
    if not isinstance(data, Mapping):
        raise ValueError("origin: not a JSON object")
    kinds = ORIGIN_TYPES[source]
    if not kinds:
        return None  # a rescan's find has nothing to say about where it came from
    if source == ModelSource.OLLAMA and "registry" not in data:
        return StoreOrigin.from_dict(data)  # linked from Ollama's store, not pulled
    try:
        return kinds[0].from_dict(data)
    except KeyError as exc:
        raise ValueError(f"origin: no {exc.args[0]!r}") from exc


def _required(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"origin: {key!r} is not a non-empty string")
    return value


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"origin: {key!r} is not a string")
    return value


def _strings(value: object) -> tuple[str, ...]:
    """A list of strings, or (older registries) one comma-joined string."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(value.split(","))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError("origin: 'files' is not a list of strings")


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _present(rows: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(key, value) for key, value in rows if value]
