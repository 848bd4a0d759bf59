"""Pure HTTP helpers of the stable endpoint: which headers travel, OpenAI-style errors, and which model a
request names. No sockets here, so every decision is unit-testable."""

from __future__ import annotations

import json
from collections.abc import Iterable

# RFC 9110 section 7.6.1: these describe one connection, not the message, so a proxy never forwards them.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "proxy-connection",
})

# Bodies the proxy sets itself (it re-frames every message): forwarding the peer's would lie about ours.
_FRAMING = frozenset({"content-length", "host"})


def forwardable_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` minus hop-by-hop ones, those named in ``Connection``, and framing we set ourselves."""
    pairs = list(headers)
    named = {token.strip().lower() for name, value in pairs if name.lower() == "connection"
             for token in value.split(",") if token.strip()}
    dropped = HOP_BY_HOP | _FRAMING | named
    return [(name, value) for name, value in pairs if name.lower() not in dropped]


def error_body(message: str, kind: str, code: str | None = None) -> bytes:
    """An OpenAI-style error document (``{"error": {"message", "type", "code"}}``)."""
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


def requested_model(content_type: str, body: bytes) -> str | None:
    """The ``"model"`` a JSON request body names, or None (not JSON, no such field, not a string)."""
    if not body or "json" not in content_type.lower():
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # the backend answers malformed JSON itself, with its own message
    if not isinstance(parsed, dict):
        return None
    model = parsed.get("model")
    return model if isinstance(model, str) and model else None


def models_document(model_ids: Iterable[str], owned_by: str = "llama-wrangler") -> bytes:
    """``GET /v1/models`` as OpenAI clients expect it."""
    data = [{"id": model_id, "object": "model", "created": 0, "owned_by": owned_by} for model_id in model_ids]
    return json.dumps({"object": "list", "data": data}).encode()
