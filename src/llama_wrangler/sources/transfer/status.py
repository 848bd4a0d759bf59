"""The one HTTP-status -> error mapping for transfers; each source supplies its own words.

:func:`status_error` decides what kind of error a status is — not found, refused, a rejected range, or a
:class:`TransientError` worth retrying (429, 5xx, with the server's ``Retry-After``) — and asks the
source's :class:`SourceWording` what to say. A source with its own error codes (the Hub's
``X-Error-Code``) reads them in :meth:`SourceWording.special`.
"""

from __future__ import annotations

import httpx

from llama_wrangler.errors import DownloadError, SourceError, WranglerError
from llama_wrangler.sources.transfer.net_words import host_of, network_words


class TransientError(DownloadError):
    """A failure worth retrying: connection lost, 5xx, 429 (``retry_after``: what the server asked for)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceWording:
    """How one source words failures on one thing.

    ``server`` names who answered, lower-case as it reads mid-sentence ("the Hub"); ``what`` is the thing
    asked for ("x.gguf in org/repo"); ``label`` names a downloaded file in checksum messages ("x.gguf from
    org/repo"). Subclasses change the words; the kind of error each status becomes stays
    :func:`status_error`'s decision.
    """

    def __init__(self, server: str, what: str, *, label: str | None = None) -> None:
        self.server = server
        self.what = what
        self.label = label or what

    @property
    def server_title(self) -> str:
        """``server`` at the start of a sentence."""
        return self.server[:1].upper() + self.server[1:]

    def special(self, status: int, headers: httpx.Headers) -> WranglerError | None:
        """The source's own reading of a failure (its error codes), before the generic one; None: none."""
        return None

    def not_found(self) -> WranglerError:
        return SourceError(f"{self.server_title} has no {self.what} (404).")

    def refused(self, status: int) -> WranglerError:
        return SourceError(f"{self.server_title} refused access to {self.what} ({status}).")

    def range_rejected(self) -> str:
        return f"{self.server_title} rejected the byte range for {self.what} (416); the partial will restart."

    def rate_limited(self) -> str:
        return f"{self.server_title} is rate-limiting requests for {self.what} (429)."

    def server_error(self, status: int) -> str:
        return f"{self.server_title} had a server error ({status}) on {self.what}."

    def other(self, status: int) -> WranglerError:
        return SourceError(f"{self.server_title} answered {status} for {self.what}.")

    def unreachable(self, exc: Exception) -> WranglerError:
        """A connection that could not be made at all (used where that is not retried)."""
        return DownloadError(f"{network_words(exc, host_of(exc, self.server))} ({self.what})")

    def corrupt(self, digest: str, expected: str) -> str:
        return (f"{self.label} is corrupt: its sha256 is {digest[:12]}…, {self.server} published "
                f"{expected[:12]}…. The partial download was deleted; nothing was added.")

    def blob_mismatch(self) -> str:
        return (f"{self.label} is corrupt: it does not match {self.server}'s git object id. "
                "The partial download was deleted; nothing was added.")


def status_error(status: int, wording: SourceWording, headers: httpx.Headers | None = None, *,
                 retry_after: float | None = None) -> WranglerError:
    """Our error for an HTTP error ``status`` (with the response's ``headers``), in ``wording``'s words.

    ``retry_after`` overrides the ``Retry-After`` header (for callers that parsed it elsewhere).
    """
    headers = headers if headers is not None else httpx.Headers()
    if retry_after is None:
        retry_after = retry_after_seconds(headers.get("Retry-After"))
    special = wording.special(status, headers)
    if special is not None:
        return special
    if status == 404:
        return wording.not_found()
    if status in (401, 403):
        return wording.refused(status)
    if status == 416:
        return DownloadError(wording.range_rejected())
    if status == 429:
        return TransientError(wording.rate_limited(), retry_after=retry_after)
    if status >= 500:
        return TransientError(wording.server_error(status), retry_after=retry_after)
    return wording.other(status)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds; None when absent or an HTTP date (rare here: our own backoff applies)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
