"""Pure translation between Ollama's REST API and llama-server's OpenAI routes (no sockets here).

Ollama requests become OpenAI bodies (``/api/chat`` and ``/api/generate`` -> ``/v1/chat/completions``,
a raw or suffixed generate -> ``/v1/completions``, ``/api/embed`` -> ``/v1/embeddings``); OpenAI answers
(whole, or one server-sent event at a time) become Ollama's objects, with durations in nanoseconds as
Ollama writes them. Field names follow Ollama's docs/api.md and its Python client's types.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llama_wrangler.server.endpoint.lease import ResidentView
from llama_wrangler.server.endpoint.ollama_infill import INFILL_ROUTE, infill_body

OLLAMA_VERSION = "0.12.0"  # what /api/version reports: recent enough for clients that check it
NDJSON = "application/x-ndjson"
FOREVER = "2318-07-01T00:00:00Z"  # what Ollama reports for a model kept loaded without end
_LATEST = ":latest"

# Ollama ``options`` that llama-server takes under the same name in an OpenAI body (its extensions).
_SAME_NAME_OPTIONS = ("temperature", "top_p", "top_k", "min_p", "typical_p", "seed", "stop", "repeat_penalty",
                      "repeat_last_n", "presence_penalty", "frequency_penalty", "mirostat", "mirostat_tau",
                      "mirostat_eta", "tfs_z", "n_probs")


class OllamaRequestError(ValueError):
    """A request Ollama itself would refuse (400); ``str()`` is the message for the client."""


@dataclass(frozen=True)
class ModelFacts:
    """What ``/api/tags`` and ``/api/show`` tell about a library model (from its record and GGUF header)."""

    size_bytes: int = 0
    digest: str = ""  # sha256 of the file when known
    modified_at: str = ""  # ISO 8601, when it joined the library
    family: str = ""  # the header's architecture (llama, qwen2, bert, ...)
    parameter_size: str = ""  # "1.2B"
    quantization_level: str = ""  # "Q4_K_M"
    context_length: int | None = None
    embedding_length: int | None = None
    vision: bool = False  # a projector is paired with it
    embedding: bool = False  # its header names a pooling type: it makes embeddings (Ollama's rule)
    extra_caps: tuple[str, ...] = ()  # beyond completion: "tools", "thinking" (its template), "insert"
    parameters: tuple[tuple[str, str], ...] = ()  # its load settings as Ollama names them (num_ctx, ...)


def error_doc(message: str) -> bytes:
    """Ollama's error shape: ``{"error": "..."}``."""
    return json.dumps({"error": message}).encode()


def not_found(name: str) -> bytes:
    return error_doc(f"model '{name}' not found")


def resolve_name(name: str, catalog: list[str], aliases: dict[str, str]) -> str | None:
    """The library id an Ollama model name means: an id or alias as is, or with ``:latest`` dropped
    (Ollama adds that tag to untagged names, and so does our ``/api/tags``)."""
    for candidate in (name, name.removesuffix(_LATEST)):
        model = aliases.get(candidate, candidate)
        if model in catalog:
            return model
    return None


def ollama_name(model_id: str) -> str:
    """How ``/api/tags`` lists a library id: Ollama names always carry a tag."""
    return model_id if ":" in model_id else model_id + _LATEST


def parse_keep_alive(value: Any) -> float | None:
    """``keep_alive`` in seconds: None when absent, negative for "forever", 0 for "unload after this".
    Accepts a number of seconds or a Go duration ("5m", "1h30m", "90s", "-1")."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise OllamaRequestError(f"keep_alive: {value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise OllamaRequestError(f"keep_alive: {value!r} is not a duration")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text.lstrip("+-"))
    if not parts or "".join(n + u for n, u in parts) != text.lstrip("+-"):
        raise OllamaRequestError(f"keep_alive: {value!r} is not a duration (like \"5m\" or 300)")
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sign * sum(float(number) * scale[unit] for number, unit in parts)


def _options(request: dict[str, Any]) -> dict[str, Any]:
    """OpenAI sampling fields from Ollama's ``options`` (``num_ctx`` and the like are load settings
    here: llama-server fixes them when it starts, so they are not sent)."""
    options = request.get("options") or {}
    if not isinstance(options, dict):
        raise OllamaRequestError("options must be an object")
    body = {name: options[name] for name in _SAME_NAME_OPTIONS if name in options}
    predict = options.get("num_predict")
    if isinstance(predict, int) and predict >= 0:
        body["max_tokens"] = predict
    fmt = request.get("format")
    if fmt == "json":
        body["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, dict):
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "format", "schema": fmt}}
    return body


def _thinking(request: dict[str, Any]) -> dict[str, Any]:
    """Ollama's ``think`` for a chat: ``true``/``false`` turns a thinking model's reasoning on or off, a
    level (gpt-oss) sets its effort — both told to the model's chat template, as llama-server does."""
    think = request.get("think")
    if think is None:
        return {}
    if isinstance(think, bool):
        return {"chat_template_kwargs": {"enable_thinking": think}}
    if think in ("low", "medium", "high"):
        return {"chat_template_kwargs": {"reasoning_effort": think}}
    raise OllamaRequestError(f"think: {think!r} is not true, false, \"low\", \"medium\" or \"high\"")


def _image_url(image: str) -> str:
    if image.startswith("data:"):
        return image
    mime = "image/jpeg" if image.startswith("/9j/") else "image/png"
    return f"data:{mime};base64,{image}"


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise OllamaRequestError("each message needs a role and content")
    content = message.get("content") or ""
    out: dict[str, Any] = {"role": message["role"]}
    images = message.get("images") or []
    if images:
        out["content"] = [{"type": "text", "text": content},
                          *({"type": "image_url", "image_url": {"url": _image_url(str(image))}} for image in images)]
    else:
        out["content"] = content
    calls = message.get("tool_calls") or []
    if calls:
        out["tool_calls"] = [
            {"id": f"call_{index}", "type": "function",
             "function": {"name": call.get("function", {}).get("name", ""),
                          "arguments": json.dumps(call.get("function", {}).get("arguments", {}))}}
            for index, call in enumerate(calls)]
    return out


def chat_body(request: dict[str, Any], model_id: str) -> dict[str, Any]:
    """The ``/v1/chat/completions`` body for an Ollama ``/api/chat`` request."""
    messages = request.get("messages") or []
    if not isinstance(messages, list):
        raise OllamaRequestError("messages must be a list")
    body: dict[str, Any] = {"model": model_id, "messages": [_message(m) for m in messages], **_options(request),
                            **_thinking(request)}
    if request.get("tools"):
        body["tools"] = request["tools"]
    return _streaming(body, request)


def generate_body(request: dict[str, Any], model_id: str) -> tuple[str, dict[str, Any]]:
    """(llama-server path, body) for an Ollama ``/api/generate``: one with a ``suffix`` fills in the middle
    (``/infill``, see :mod:`.ollama_infill`); a raw prompt goes to ``/v1/completions`` untouched; otherwise
    it is a one-turn chat, so the model's chat template applies as it does in Ollama."""
    prompt = request.get("prompt") or ""
    if not isinstance(prompt, str):
        raise OllamaRequestError("prompt must be a string")
    suffix = request.get("suffix") or ""
    if not isinstance(suffix, str):
        raise OllamaRequestError("suffix must be a string")
    options = _options(request)
    if suffix:
        return INFILL_ROUTE, infill_body(prompt, suffix, options, stream=wants_stream(request))
    if request.get("raw"):
        body: dict[str, Any] = {"model": model_id, "prompt": prompt, **options}
        return "/v1/completions", _streaming(body, request)
    messages: list[dict[str, Any]] = []
    if request.get("system"):
        messages.append({"role": "system", "content": str(request["system"])})
    messages.append(_message({"role": "user", "content": prompt, "images": request.get("images") or []}))
    return "/v1/chat/completions", _streaming({"model": model_id, "messages": messages, **options,
                                               **_thinking(request)}, request)


def _streaming(body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    if wants_stream(request):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def wants_stream(request: dict[str, Any]) -> bool:
    """Ollama streams unless told ``"stream": false``."""
    return request.get("stream", True) is not False


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"


def details(facts: ModelFacts) -> dict[str, Any]:
    return {"parent_model": "", "format": "gguf", "family": facts.family,
            "families": [facts.family] if facts.family else None,
            "parameter_size": facts.parameter_size, "quantization_level": facts.quantization_level}


def _digest(model_id: str, facts: ModelFacts) -> str:
    """Ollama's ``digest``: bare hex (its CLI prints the first 12 characters, and fails on fewer) — the
    file's sha256 when known, else one made from the library id (stable: the same model, the same id)."""
    return facts.digest.removeprefix("sha256:") or hashlib.sha256(model_id.encode()).hexdigest()


def _entry(model_id: str, facts: ModelFacts) -> dict[str, Any]:
    return {"name": ollama_name(model_id), "model": ollama_name(model_id), "size": facts.size_bytes,
            "digest": _digest(model_id, facts), "details": details(facts)}


def tags_doc(catalog: list[str], facts: dict[str, ModelFacts]) -> bytes:
    """``GET /api/tags``: every servable library model."""
    models = []
    for model_id in catalog:
        fact = facts.get(model_id, ModelFacts())
        models.append({**_entry(model_id, fact), "modified_at": fact.modified_at or now_iso()})
    return json.dumps({"models": models}).encode()


def ps_doc(residents: Iterable[ResidentView], facts: dict[str, ModelFacts], now: float) -> bytes:
    """``GET /api/ps``: every loaded model, with ``size`` (the memory estimate, else the file's size),
    ``size_vram`` (the estimate's GPU part) and ``expires_at`` (when its idle TTL unloads it)."""
    models = []
    for view in residents:
        entry = _entry(view.model, facts.get(view.model, ModelFacts()))
        if view.ram_bytes or view.vram_bytes:
            entry["size"] = view.ram_bytes + view.vram_bytes
        entry["size_vram"] = view.vram_bytes
        entry["expires_at"] = FOREVER if view.ttl_s is None else time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + max(0.0, view.ttl_s - view.idle_s)))
        models.append(entry)
    return json.dumps({"models": models}).encode()


def show_doc(model_id: str, facts: ModelFacts) -> bytes:
    """``POST /api/show``: details, the header facts as ``model_info`` and what the model can do."""
    info: dict[str, Any] = {"general.architecture": facts.family}
    if facts.context_length:
        info[f"{facts.family}.context_length"] = facts.context_length
    if facts.embedding_length:
        info[f"{facts.family}.embedding_length"] = facts.embedding_length
    capabilities = (["embedding"] if facts.embedding else
                    ["completion", *facts.extra_caps, *(["vision"] if facts.vision else [])])
    parameters = "\n".join(f"{name:<30} {value}" for name, value in facts.parameters)
    modelfile = f"FROM {model_id}\n" + "".join(f"PARAMETER {name} {value}\n" for name, value in facts.parameters)
    return json.dumps({"modelfile": modelfile, "parameters": parameters, "template": "",
                       "details": details(facts), "model_info": info, "capabilities": capabilities,
                       "modified_at": facts.modified_at or now_iso()}).encode()


def _ns(ms: Any) -> int:
    return int(float(ms) * 1_000_000) if isinstance(ms, int | float) else 0


def final_stats(answer: dict[str, Any], started_ns: int, load_ns: int) -> dict[str, Any]:
    """The counts and durations Ollama ends an answer with, from llama-server's ``usage`` and its own
    ``timings`` (prompt and generation milliseconds) when present."""
    usage = answer.get("usage") or {}
    timings = answer.get("timings") or {}
    return {"total_duration": time.monotonic_ns() - started_ns, "load_duration": load_ns,
            "prompt_eval_count": int(usage.get("prompt_tokens") or timings.get("prompt_n") or 0),
            "prompt_eval_duration": _ns(timings.get("prompt_ms")),
            "eval_count": int(usage.get("completion_tokens") or timings.get("predicted_n") or 0),
            "eval_duration": _ns(timings.get("predicted_ms"))}


def _done_reason(finish: Any) -> str:
    return "length" if finish == "length" else "stop"


def _tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for call in calls:
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            parsed = {"_raw": arguments}
        out.append({"function": {"name": function.get("name", ""), "arguments": parsed}})
    return out


def chunk_doc(model: str, *, chat: bool, text: str, thinking: str = "",
              tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One ``done: false`` object of a stream (or the body of a whole answer, before its stats)."""
    doc: dict[str, Any] = {"model": model, "created_at": now_iso()}
    if chat:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        if tool_calls:
            message["tool_calls"] = _tool_calls(tool_calls)
        doc["message"] = message
    else:
        doc["response"] = text
        if thinking:
            doc["thinking"] = thinking
    doc["done"] = False
    return doc


def whole_answer(answer: dict[str, Any], model: str, *, chat: bool, started_ns: int, load_ns: int) -> bytes:
    """A non-streamed OpenAI answer (chat or completion) as Ollama's single ``done: true`` object."""
    choice = (answer.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    text = message.get("content") or choice.get("text") or ""
    doc = chunk_doc(model, chat=chat, text=text, thinking=message.get("reasoning_content") or "",
                    tool_calls=message.get("tool_calls"))
    doc.update(done=True, done_reason=_done_reason(choice.get("finish_reason")),
               **final_stats(answer, started_ns, load_ns))
    return json.dumps(doc).encode()


def final_chunk(model: str, *, chat: bool, finish: Any, stats: dict[str, Any]) -> bytes:
    doc = chunk_doc(model, chat=chat, text="")
    doc.update(done=True, done_reason=_done_reason(finish), **stats)
    return json.dumps(doc).encode() + b"\n"


def load_answer(model: str, *, chat: bool, reason: str = "load") -> bytes:
    """What Ollama answers to an empty prompt: the model is loaded (or, with ``keep_alive: 0``, unloaded)
    and nothing is generated."""
    doc = chunk_doc(model, chat=chat, text="")
    doc.update(done=True, done_reason=reason)
    return json.dumps(doc).encode()


def sse_events(buffer: bytearray) -> list[dict[str, Any] | None]:
    """The complete ``data:`` events at the front of ``buffer`` (removed from it), parsed; None stands for
    ``[DONE]``. An ``error:`` event (how some llama-server builds end a failed stream) comes as
    ``{"error": ...}``, as newer ones send it. A partial event stays in the buffer for the next read."""
    events: list[dict[str, Any] | None] = []
    while True:
        end = buffer.find(b"\n")
        if end < 0:
            return events
        line = bytes(buffer[:end]).strip()
        del buffer[:end + 1]
        kind, _colon, payload = line.partition(b":")
        if kind not in (b"data", b"error"):
            continue
        if payload.strip() == b"[DONE]":
            events.append(None)
            continue
        try:
            parsed = json.loads(payload)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            events.append(parsed if kind == b"data" else {"error": parsed})


def upstream_error(status: int, body: bytes) -> str:
    """The message of an OpenAI-style error body (llama-server's), for Ollama's ``{"error": ...}``."""
    try:
        parsed = json.loads(body)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    except ValueError:
        pass
    return f"the model server answered {status}: {body[:200].decode(errors='replace')}"
