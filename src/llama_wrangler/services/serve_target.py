"""Which file to serve for what a user or a client named — one rule for the window, the tray, the API
and ``serve`` on the command line (Qt-free)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from llama_wrangler.errors import ModelNotFoundError, ServerError
from llama_wrangler.library.gguf import template_capabilities
from llama_wrangler.library.gguf_reader import MAX_WHOLE_STRING
from llama_wrangler.library.load_settings import LoadSettings, is_template_file
from llama_wrangler.library.projectors import projector_beside
from llama_wrangler.library.registry import Library, ModelRecord
from llama_wrangler.server import run
from llama_wrangler.server.endpoint.ollama_wire import ModelFacts


@dataclass(frozen=True)
class ServeTarget:
    """A model ready to hand to the supervisor: its file, the id clients use, its display name, and how it
    is loaded (the record's own settings; a file outside the library has none)."""

    path: Path
    model_id: str
    name: str
    mmproj: Path | None = None  # its vision projector (``--mmproj``)
    load: LoadSettings = field(default_factory=LoadSettings)

    def overridden_by(self, overrides: LoadSettings) -> ServeTarget:
        """This target with the fields ``overrides`` sets taken from it (``serve``'s options)."""
        return replace(self, load=self.load.overridden_by(overrides))

    def server_target(self) -> run.ServeTarget:
        """What the supervisor starts for it."""
        return run.ServeTarget(self.path, self.model_id, self.mmproj, self.load)


def api_names(records: Iterable[ModelRecord]) -> tuple[list[str], dict[str, str]]:
    """The ids clients may send for servable models, and the other names that mean one of them without
    doubt: the library name and the header's ``general.name`` (a name two models share means neither)."""
    servable = [record for record in records if not record.missing]
    ids = [record.id for record in servable]
    claims: dict[str, set[str]] = {}
    for record in servable:
        for name in {record.name, (record.info.name or "").strip()} - {"", record.id}:
            claims.setdefault(name, set()).add(record.id)
    aliases = {name: owners.pop() for name, owners in claims.items() if len(owners) == 1 and name not in ids}
    return ids, aliases


def api_facts(records: Iterable[ModelRecord]) -> dict[str, ModelFacts]:
    """What Ollama clients are told about each servable model (``/api/tags``, ``/api/show``)."""
    facts = {}
    for record in records:
        if record.missing:
            continue
        info = record.info
        params = info.parameter_label if info.size_label or info.parameter_count else ""  # as the library shows it
        facts[record.id] = ModelFacts(
            size_bytes=record.size_bytes, digest=f"sha256:{record.sha256}" if record.sha256 else "",
            modified_at=record.added_at, family=info.architecture or "", parameter_size=params,
            quantization_level=info.quant or "", context_length=info.context_length,
            embedding_length=info.embedding_length, vision=record.mmproj is not None,
            embedding=f"{info.architecture}.pooling_type" in info.metadata,
            parameters=ollama_parameters(record.load), extra_caps=extra_capabilities(record))
    return facts


def extra_capabilities(record: ModelRecord) -> tuple[str, ...]:
    """What ``record`` can do beyond completion, as Ollama's ``/api/show`` names it: its chat template's
    (tools, thinking), and ``insert`` (fill in the middle) when its header names the tokens for it."""
    meta = record.info.metadata  # llama.cpp still reads the older names (CodeLlama's files have them)
    fim = all(f"tokenizer.ggml.fim_{role}_token_id" in meta or f"tokenizer.ggml.{old}_token_id" in meta
              for role, old in (("pre", "prefix"), ("suf", "suffix"), ("mid", "middle")))
    return (*template_caps(record), *(("insert",) if fim else ()))


def template_caps(record: ModelRecord) -> tuple[str, ...]:
    """What the chat template llama-server will use for ``record`` allows (tools, thinking): a template file
    in its load settings decides, else the one in its header; a built-in template name claims nothing."""
    chosen = record.load.chat_template
    if chosen is None:
        return record.info.template_caps
    if not is_template_file(chosen):
        return ()
    try:
        with Path(chosen).open("rb") as file:
            text = file.read(MAX_WHOLE_STRING).decode("utf-8", errors="replace")
    except OSError:
        return ()  # a missing file: the start will say so
    return template_capabilities(text)


def ollama_parameters(load: LoadSettings) -> tuple[tuple[str, str], ...]:
    """A model's own load settings under the names Ollama's ``/api/show`` uses (requests' ``options``
    never change them: a model is loaded one way, whoever asks)."""
    pairs = (("num_ctx", load.context_size), ("num_gpu", load.gpu_layers), ("num_thread", load.threads))
    return tuple((name, str(value)) for name, value in pairs if value is not None)


def resolve_target(library: Library, ref: str, *, allow_path: bool = False) -> ServeTarget:
    """The model ``ref`` names: a library id, exact name or unique id prefix; with ``allow_path`` also a
    ``.gguf`` file that is not (yet) in the library. Raises :class:`ModelNotFoundError` or, for a model
    whose file is gone, :class:`ServerError` — both written for the user."""
    try:
        record = library.get(ref)
    except ModelNotFoundError:
        path = Path(ref).expanduser()
        if allow_path and path.suffix.lower() == ".gguf" and path.is_file():
            return ServeTarget(path.resolve(), path.stem, path.stem, projector_beside(path.resolve()))
        raise
    if record.missing:
        raise ServerError(f"Cannot serve {record.name}: its file is missing ({record.path}).")
    mmproj = record.mmproj if record.mmproj is not None and record.mmproj.is_file() else None
    return ServeTarget(record.path, record.id, record.name, mmproj, record.load)
