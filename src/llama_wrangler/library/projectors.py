"""Vision projectors (``mmproj*.gguf``): the part of a vision model (Gemma 3, Qwen-VL, LLaVA...) that turns
an image into tokens. A projector is not a model on its own; it is paired with the model beside it, and
llama-server loads it with ``--mmproj``.

llama.cpp's projector files declare ``general.architecture = clip``; their names carry ``mmproj`` on the Hub,
and Ollama keeps one as a separate ``projector`` layer of the model's manifest.
"""

from __future__ import annotations

from pathlib import Path

PROJECTOR_ARCHITECTURES = frozenset({"clip"})
PROJECTOR_MARK = "mmproj"


def is_projector_name(path: Path) -> bool:
    return PROJECTOR_MARK in path.name.lower()


def projector_beside(model: Path) -> Path | None:
    """The projector in ``model``'s folder: one named after the model (Ollama pulls keep
    ``<tag>-mmproj.gguf`` beside ``<tag>.gguf``), else a folder-wide ``mmproj*.gguf`` (the Hub's naming;
    F16 preferred). Projectors named after other models are not taken. None when there is none (or
    ``model`` is itself a projector)."""
    if is_projector_name(model):
        return None
    try:
        found = sorted(p for p in model.parent.iterdir()
                       if p.suffix.lower() == ".gguf" and is_projector_name(p) and p.is_file())
    except OSError:
        return None
    stem = model.stem.lower()
    own = [p for p in found if p.name.lower().startswith(stem)]
    if own:
        return own[0]
    shared = [p for p in found if p.name.lower().startswith(PROJECTOR_MARK)]
    preferred = [p for p in shared if "f16" in p.name.lower()]
    chosen = preferred or shared
    return chosen[0] if chosen else None
