"""Which origins may see a token: the one rule, used at every request and every redirect hop.

A token goes only to its auth origin — the same scheme, host and port (default ports filled in). A redirect
to a CDN (another host), to another port, or between http and https in either direction gets no token:
an https origin must not leak it over plain http, and an http origin (a loopback or LAN mirror) does not
extend trust to whatever answers on https.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]


def origin_of(url: str) -> Origin:
    """``(scheme, host, port)`` of ``url``, lower-cased, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: no origin matches it
        return (scheme, "", -1)
    return (scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme))


def may_see_token(url: str, auth_origin: str | None) -> bool:
    """Whether a request to ``url`` may carry the token that belongs to ``auth_origin`` (None: nobody)."""
    if not auth_origin:
        return False
    target = origin_of(url)
    return bool(target[1]) and target == origin_of(auth_origin)


def token_headers(url: str, auth_origin: str | None, token: str | None) -> dict[str, str]:
    """The ``Authorization`` header for a request to ``url``, when the rule allows it; else none."""
    if token and may_see_token(url, auth_origin):
        return {"Authorization": f"Bearer {token}"}
    return {}
