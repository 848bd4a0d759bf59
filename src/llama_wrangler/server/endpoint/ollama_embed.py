"""Ollama's embedding routes translated onto llama-server's ``/v1/embeddings`` (pure; no sockets here).

``/api/embed`` takes ``input`` (a string or a list) and answers unit-length vectors, cut to ``dimensions``
when asked; the older ``/api/embeddings`` takes one ``prompt`` and answers its vector as it is. An empty
input only loads the model, as in Ollama. An input longer than the model server embeds at once is cut to
fit (Ollama's ``truncate``, on unless ``false``): llama-server refuses it naming its batch size, and the
input is sent again as that many of its tokens.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

from llama_wrangler.server.endpoint.ollama_wire import OllamaRequestError


def embed_body(request: dict[str, Any], model_id: str, *, legacy: bool = False) -> dict[str, Any]:
    """The ``/v1/embeddings`` body for ``/api/embed`` (``input``: a string or a list) or the older
    ``/api/embeddings`` (``prompt``: one string). Its ``input`` is empty when there is nothing to embed (no
    input, ``""`` or ``[]``): Ollama then only loads the model and answers no vectors."""
    texts = request.get("prompt") if legacy else request.get("input")
    if texts is None or texts == "":
        texts = []
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise OllamaRequestError("input must be a string or a list of strings")
    return {"model": model_id, "input": texts}


def embed_dimensions(request: dict[str, Any]) -> int:
    """``/api/embed``'s ``dimensions`` (0: all of them)."""
    value = request.get("dimensions") or 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OllamaRequestError(f"dimensions: {value!r} is not a number of dimensions")
    return value


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm > 0 else vector


def embed_answer(answer: dict[str, Any], model: str, *, legacy: bool, started_ns: int, load_ns: int,
                 dimensions: int = 0) -> bytes:
    """``/api/embed``'s vectors are of unit length, as Ollama's are: cut to ``dimensions`` first when
    asked (a Matryoshka model's shorter embedding), then scaled back. The legacy route's go as they are."""
    vectors = [item.get("embedding") or [] for item in sorted(answer.get("data") or [],
                                                                key=lambda d: d.get("index", 0))]
    if legacy:
        return json.dumps({"embedding": vectors[0] if vectors else []}).encode()
    vectors = [_unit(vector[:dimensions] if dimensions else vector) for vector in vectors]
    usage = answer.get("usage") or {}
    return json.dumps({"model": model, "embeddings": vectors, "total_duration": time.monotonic_ns() - started_ns,
                       "load_duration": load_ns, "prompt_eval_count": int(usage.get("prompt_tokens") or 0)}).encode()


TOO_LONG = "the input length exceeds the context length"  # Ollama's words for a long input with truncate off
# llama-server's refusals of an input longer than it embeds at once: over its batch, or over a slot's context.
_TOO_LARGE = re.compile(r"too large to process.*current batch size: (\d+)"
                        r"|larger than the max context size \((\d+) tokens\)", re.DOTALL)


def truncates(request: dict[str, Any]) -> bool:
    """Ollama's ``truncate``: on unless ``false``."""
    return request.get("truncate", True) is not False


def batch_limit(message: str) -> int | None:
    """The most tokens llama-server embeds at once, read from its refusal of a longer input (None: the
    error is another one)."""
    match = _TOO_LARGE.search(message)
    return int(match.group(1) or match.group(2)) if match else None


def cut_tokens(special: list[int], plain: list[int], limit: int) -> list[int]:
    """The first ``limit`` of an input's tokens (``special``: with the model's begin/end tokens, ``plain``:
    without): an end token the model adds stays last, as it does in a whole input."""
    if len(special) <= limit:
        return special
    cut = special[:limit]
    if plain and special[-1] != plain[-1]:  # the model ends each input with a token of its own
        cut[-1] = special[-1]
    return cut
