"""Ollama's fill in the middle (``/api/generate`` with a ``suffix``: code completion in an editor) on
llama-server's ``/infill``.

llama-server's OpenAI route refuses ``suffix``; ``/infill`` takes the text before and after the cursor
(``input_prefix``, ``input_suffix``) and builds the prompt with the model's own fill-in-the-middle tokens.
It answers in llama.cpp's native shape — ``{"content", "stop", "stop_type", "timings",
"tokens_evaluated"}``, streamed as server-sent events of the same objects — which this module turns into
Ollama's. A model without those tokens makes llama-server answer 501; Ollama says 400 "does not support
insert" for it, and so do we.
"""

from __future__ import annotations

from typing import Any

INFILL_ROUTE = "/infill"
NOT_SUPPORTED = 501  # what llama-server answers /infill for a model without fill-in-the-middle tokens

# Ollama ``options`` that llama.cpp's native completion takes under the same name
_NATIVE_OPTIONS = ("temperature", "top_p", "top_k", "min_p", "typical_p", "seed", "stop", "repeat_penalty",
                   "repeat_last_n", "presence_penalty", "frequency_penalty", "mirostat", "mirostat_tau",
                   "mirostat_eta", "n_probs")


def infill_body(prompt: str, suffix: str, options: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The ``/infill`` body for the text before (``prompt``) and after (``suffix``) the cursor; ``options``
    are the OpenAI-named sampling fields the other routes send (``max_tokens`` is ``n_predict`` here)."""
    body: dict[str, Any] = {name: options[name] for name in _NATIVE_OPTIONS if name in options}
    if "max_tokens" in options:
        body["n_predict"] = options["max_tokens"]
    body.update(input_prefix=prompt, input_suffix=suffix, stream=stream)
    return body


def is_native(event: dict[str, Any]) -> bool:
    """An answer (or streamed event) in llama.cpp's native shape rather than OpenAI's."""
    return "choices" not in event and "content" in event


def native_finish(event: dict[str, Any]) -> str | None:
    """The OpenAI finish reason of a native event that ends the answer (None while it goes on)."""
    if not event.get("stop"):
        return None
    return "length" if event.get("stop_type") == "limit" else "stop"


def native_usage(event: dict[str, Any]) -> dict[str, int]:
    """A native answer's counts as OpenAI's ``usage``, which the Ollama stats are made from."""
    timings = event.get("timings") or {}
    prompt = event.get("tokens_evaluated") or timings.get("prompt_n") or 0
    completion = event.get("tokens_predicted") or timings.get("predicted_n") or 0
    return {"prompt_tokens": int(prompt), "completion_tokens": int(completion)}


def as_openai(event: dict[str, Any]) -> dict[str, Any]:
    """A native answer, or one streamed event of it, in the OpenAI completion shape the Ollama translation
    reads (the counts only on the event that ends it)."""
    finish = native_finish(event)
    doc: dict[str, Any] = {"choices": [{"text": event.get("content") or "", "finish_reason": finish}]}
    if finish is not None:
        doc.update(usage=native_usage(event), timings=event.get("timings") or {})
    return doc
