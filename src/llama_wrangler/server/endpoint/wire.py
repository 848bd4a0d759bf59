"""Pure HTTP decisions of the stable endpoint: which headers travel, OpenAI-style errors, which model a
request names, who may call (API key, CORS). No sockets here, so every decision is unit-testable."""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

# RFC 9110 section 7.6.1: these describe one connection, not the message, so a proxy never forwards them.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "proxy-connection",
})

# Bodies the proxy sets itself (it re-frames every message): forwarding the peer's would lie about ours.
_FRAMING = frozenset({"content-length", "host"})

# What a browser page may send: the OpenAI JS SDK adds its x-stainless-* telemetry headers to every call.
CORS_ALLOWED_HEADERS = ("Authorization, Content-Type, X-Api-Key, OpenAI-Organization, OpenAI-Project, "
                        "OpenAI-Beta, X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-OS, "
                        "X-Stainless-Arch, X-Stainless-Runtime, X-Stainless-Runtime-Version, "
                        "X-Stainless-Retry-Count, X-Stainless-Timeout, X-Stainless-Helper-Method, "
                        "X-Stainless-Async")
CORS_ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_MAX_AGE_S = 600


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


def sse_error_event(message: str, kind: str = "server_error") -> bytes:
    """The error a stream ends with when its model server breaks off mid-answer (the status is sent
    already, so this is how OpenAI clients learn of it: they raise on an ``error`` event)."""
    return b"data: " + error_body(message, kind) + b"\n\n"


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


def _model_entry(model_id: str, state: str, owned_by: str) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owned_by, "state": state}


def models_document(models: Iterable[tuple[str, str]], owned_by: str = "llama-wrangler") -> bytes:
    """``GET /v1/models`` as OpenAI clients expect it, each entry with its ``state`` (loaded, loading,
    unloaded, failed) added: clients ignore fields they do not know."""
    data = [_model_entry(model_id, state, owned_by) for model_id, state in models]
    return json.dumps({"object": "list", "data": data}).encode()


def model_document(model_id: str, state: str, owned_by: str = "llama-wrangler") -> bytes:
    """``GET /v1/models/{id}``: one entry of the list, as OpenAI's ``models.retrieve`` reads it."""
    return json.dumps(_model_entry(model_id, state, owned_by)).encode()


def authorized(headers: Mapping[str, str], key: str) -> bool:
    """True when no key is set (whatever the client sends), or the request carries it as
    ``Authorization: Bearer`` or ``X-Api-Key`` (llama-server accepts either)."""
    if not key:
        return True
    sent = headers.get("Authorization", "").removeprefix("Bearer ").strip()
    sent = sent or headers.get("X-Api-Key", "").strip()
    return hmac.compare_digest(sent.encode(), key.encode())


def parse_origins(text: str) -> tuple[str, ...]:
    """The ``cors_origins`` setting as a tuple of origins (``("*",)`` for any; () for loopback only)."""
    return tuple(origin.strip().rstrip("/").lower() for origin in text.split(",") if origin.strip())


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    """May a page from ``origin`` call us? Listed origins, ``*``, or (nothing listed) pages served from
    this computer: ``http(s)://localhost``, ``127.x`` or ``[::1]`` on any port."""
    origin = origin.strip().rstrip("/").lower()
    if allowed:
        return "*" in allowed or origin in allowed
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost" or parts.hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def cors_headers(origin: str, *, preflight: bool, requested_headers: str = "") -> dict[str, str]:
    """The headers that let an allowed ``origin``'s page read our answer (and, for a preflight, send).
    Any ``x-stainless-*`` header a preflight asks for is allowed: the SDK adds new ones over time."""
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        stainless = [name.strip() for name in requested_headers.split(",")
                     if name.strip().lower().startswith("x-stainless-")]
        headers.update({"Access-Control-Allow-Methods": CORS_ALLOWED_METHODS,
                        "Access-Control-Allow-Headers": ", ".join([CORS_ALLOWED_HEADERS, *stainless]),
                        "Access-Control-Max-Age": str(CORS_MAX_AGE_S)})
    return headers
