"""How a model is named on screen: the title its GGUF header gives (``general.name``, e.g. "Llama 3.2 1B
Instruct"), with the file name second — one rule for the library table, the details pane, the server
picker and the tray."""

from __future__ import annotations

from llama_wrangler.library.records import ModelRecord


def title_of(record: ModelRecord) -> str:
    """``general.name`` when the header has a usable one, else the library name (the file's stem)."""
    name = (record.info.name or "").strip()
    return name if name else record.name


def title_or_id(record: ModelRecord | None, model_id: str) -> str:
    """``record``'s title, else ``model_id`` (a model served from a file outside the library, or gone)."""
    return title_of(record) if record is not None else model_id


def file_label(record: ModelRecord) -> str:
    """The file name, with the shard count for a split model."""
    extra = f" (+{len(record.paths) - 1} shards)" if len(record.paths) > 1 else ""
    return record.path.name + extra


def picker_label(record: ModelRecord) -> str:
    """Title plus quant, unless the title already says the quant ("…-Q4_K_M · Q4_K_M" reads twice)."""
    title = title_of(record)
    quant = record.info.quant or ""
    if not quant or quant.lower() in title.lower().replace("-", "_").replace(".", "_"):
        return title
    return f"{title} · {quant}"
