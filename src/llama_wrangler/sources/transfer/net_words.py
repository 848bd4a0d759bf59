"""Network failures in plain words: what happened and what to check, never ``[Errno -2] Name or service not
known`` (Qt-free).

httpx (and huggingface_hub's client) wrap the OS's errors; the text of the innermost one tells the cases
apart on every platform we run on, so that is what is read here, and only to choose the words.
"""

from __future__ import annotations

import contextlib
import ssl

import httpx

_NO_NAME = ("name or service not known", "nodename nor servname", "getaddrinfo failed", "name resolution",
            "no address associated", "temporary failure in name")
_REFUSED = ("connection refused", "actively refused")


def host_of(exc: BaseException, fallback: str) -> str:
    """The host the failed request went to (``fallback`` when the error does not say)."""
    with contextlib.suppress(AttributeError, RuntimeError):
        host = exc.request.url.host  # type: ignore[attr-defined]
        if host:
            return str(host)
    return fallback


def _chain_text(exc: BaseException) -> str:
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 8:
        parts.append(str(seen).lower())
        seen = seen.__cause__ or seen.__context__
    return " | ".join(parts)


def network_words(exc: BaseException, host: str, *, check: str = "") -> str:
    """One sentence for a failed connection to ``host``; ``check`` names what the user may have set that
    points there (``HF_ENDPOINT``), added to the advice."""
    also = f" or {check}" if check else ""
    text = _chain_text(exc)
    if any(marker in text for marker in _NO_NAME):
        return f"Can't reach {host}: the name does not resolve — check your connection{also}."
    if isinstance(exc, httpx.TimeoutException) or "timed out" in text:
        return f"{host} did not answer in time — check your connection{also}."
    if any(marker in text for marker in _REFUSED):
        return f"{host} refused the connection — check the address{also}."
    if isinstance(exc, ssl.SSLError) or "certificate" in text or "ssl" in text:
        return f"A secure connection to {host} could not be made (its certificate was not accepted)."
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return f"The connection to {host} was lost part-way."
    return f"Can't reach {host} — check your connection{also}."
