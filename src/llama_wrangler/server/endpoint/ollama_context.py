"""A chat longer than the model's context, as Ollama handles it: the oldest messages are left out.

Ollama keeps every system message and the latest message, and drops the oldest others until the prompt
fits the context. llama-server refuses such a chat instead (400 ``exceed_context_size_error``, with the
prompt's token count and the slot's context). We keep llama-server's counting — it applies the real chat
template and tokenizer — and use its refusal: the messages are cut in proportion to how far over the
prompt was, and the chat is sent again (a few times at most; each try costs a template and a
tokenization, never a generation). Pure functions; the retry is in :mod:`.ollama_api`.
"""

from __future__ import annotations

import json
from typing import Any

OVERFLOW_TYPE = "exceed_context_size_error"
MAX_TRIES = 6
FILL = 0.9  # aim below the context: the token count per character is an estimate


def overflow(body: bytes) -> tuple[int, int] | None:
    """(prompt tokens, context) when ``body`` is llama-server's "does not fit the context" error."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict) or error.get("type") != OVERFLOW_TYPE:
        return None
    prompt, context = error.get("n_prompt_tokens"), error.get("n_ctx")
    if not isinstance(prompt, int) or not isinstance(context, int) or prompt <= 0 or context <= 0:
        return None
    return prompt, context


IMAGE_CHARS = 2000  # what an image part is counted as (its base64 says nothing of its tokens)


def _size(message: dict[str, Any]) -> int:
    """A message's weight in characters (the template's markers cost a few tokens too)."""
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI content parts: text, images
        return 8 + sum(len(str(part.get("text") or "")) if isinstance(part, dict) and part.get("type") == "text"
                       else IMAGE_CHARS for part in content)
    return 8 + len(str(content))


def weight(messages: list[dict[str, Any]]) -> int:
    """The messages' weight in characters (what the token estimate scales)."""
    return sum(_size(message) for message in messages)


def fewer_messages(messages: list[dict[str, Any]], prompt_tokens: int, context: int,
                   previous: tuple[int, int] | None = None) -> list[dict[str, Any]] | None:
    """``messages`` without their oldest non-system ones, enough that the prompt should fit ``context``
    (None when nothing more can go: only system messages and the latest one are left).

    ``previous``: (prompt tokens, :func:`weight`) of the try before, with more messages. Two tries tell the
    tokens per character *and* the fixed part of the prompt (tool definitions, the template's own text),
    which one try must take as none — big tool definitions would then take many tries."""
    if len(messages) < 2:
        return None
    total = weight(messages)
    per_char, fixed = prompt_tokens / max(1, total), 0.0
    if previous is not None and previous[1] > total and previous[0] > prompt_tokens:
        per_char = (previous[0] - prompt_tokens) / (previous[1] - total)
        fixed = max(0.0, prompt_tokens - per_char * total)
    budget = int(context * FILL) - fixed
    kept = list(messages)
    dropped = 0
    index = 0
    while per_char * weight(kept) > budget and index < len(kept) - 1:
        if kept[index].get("role") == "system":
            index += 1
            continue
        kept.pop(index)
        dropped += 1
    return kept if dropped else None
