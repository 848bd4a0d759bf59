"""The one place where Hugging Face Hub failures become our errors (messages written for the user).

Both huggingface_hub's typed exceptions (API calls, metadata) and plain HTTP statuses from our own byte
transfers go through here, so a gated repo reads the same whether the listing or the download hit it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from llama_wrangler.errors import DownloadError, SourceError, WranglerError

try:  # huggingface_hub 2.x talks through httpx2; 1.x used httpx itself
    import httpx2

    _TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, httpx2.TransportError)
    _HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    _TRANSPORT_ERRORS = (httpx.TransportError,)
    _HTTP_ERRORS = (httpx.HTTPError,)

_HUB_ERRORS: tuple[type[Exception], ...] = (HfHubHTTPError, EntryNotFoundError, OfflineModeIsEnabled,
                                            *_HTTP_ERRORS, OSError)

GATED_MESSAGE = ("This repo is gated: accept its license on huggingface.co and set a token in Settings.")


class GatedRepoAccessError(SourceError):
    """The repo needs an accepted license and a token."""


class HubNotFoundError(SourceError):
    """A repo, revision or file does not exist (or is private and we have no token for it)."""


class TransientHubError(DownloadError):
    """A failure worth retrying: connection lost, 5xx, 429."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def status_error(status: int, *, repo_id: str, file: str | None = None, revision: str | None = None,
                 retry_after: float | None = None, error_code: str | None = None) -> WranglerError:
    """Our error for an HTTP status (and the hub's ``X-Error-Code``) on ``repo_id``/``file``."""
    what = f"{file} in {repo_id}" if file else repo_id
    if error_code == "GatedRepo":
        return GatedRepoAccessError(GATED_MESSAGE)
    if error_code == "RevisionNotFound":
        return HubNotFoundError(f"Revision {revision!r} does not exist in {repo_id}.")
    if error_code == "EntryNotFound" or (status == 404 and file):
        return HubNotFoundError(f"{file or 'The file'} does not exist in {repo_id}"
                                f"{f' at {revision}' if revision else ''}.")
    if error_code == "RepoNotFound" or status == 404:
        return HubNotFoundError(f"{repo_id} was not found on the Hub.",
                                hint="If it is private, set a token in Settings.")
    if status == 401:
        return SourceError(f"The Hub refused access to {what} (401).",
                           hint="Set a valid Hugging Face token in Settings.")
    if status == 403:
        return SourceError(f"The Hub forbids access to {what} (403).",
                           hint="Check that your token may read this repo.")
    if status == 416:
        return DownloadError(f"The Hub rejected the byte range for {what} (416); the partial will restart.")
    if status == 429:
        return TransientHubError(f"The Hub is rate-limiting requests for {what} (429).",
                                 retry_after=retry_after)
    if status >= 500:
        return TransientHubError(f"The Hub had a server error ({status}) on {what}.", retry_after=retry_after)
    return SourceError(f"The Hub answered {status} for {what}.")


def translate(exc: BaseException, *, repo_id: str, file: str | None = None,
              revision: str | None = None) -> WranglerError:
    """Our error for an exception raised by huggingface_hub or an HTTP client."""
    if isinstance(exc, WranglerError):
        return exc
    # Order matters: GatedRepoError is a RepositoryNotFoundError.
    if isinstance(exc, GatedRepoError):
        return GatedRepoAccessError(GATED_MESSAGE)
    if isinstance(exc, RepositoryNotFoundError):
        return status_error(404, repo_id=repo_id, error_code="RepoNotFound")
    if isinstance(exc, RevisionNotFoundError):
        return status_error(404, repo_id=repo_id, revision=revision, error_code="RevisionNotFound")
    if isinstance(exc, EntryNotFoundError):
        return status_error(404, repo_id=repo_id, file=file, revision=revision, error_code="EntryNotFound")
    if isinstance(exc, OfflineModeIsEnabled):
        return SourceError("Hugging Face access is switched off (HF_HUB_OFFLINE is set).")
    if isinstance(exc, HfHubHTTPError):
        response = exc.response
        return status_error(response.status_code, repo_id=repo_id, file=file, revision=revision,
                            retry_after=_retry_after(response.headers.get("Retry-After")))
    if isinstance(exc, httpx.HTTPStatusError):
        response2 = exc.response
        return status_error(response2.status_code, repo_id=repo_id, file=file, revision=revision,
                            retry_after=_retry_after(response2.headers.get("Retry-After")),
                            error_code=response2.headers.get("X-Error-Code"))
    if isinstance(exc, (*_TRANSPORT_ERRORS, ConnectionError, TimeoutError)):
        return TransientHubError(f"Lost the connection to the Hub: {exc or type(exc).__name__}.")
    return SourceError(f"The Hub request failed: {exc}.")


@contextmanager
def hub_errors(repo_id: str, *, file: str | None = None, revision: str | None = None) -> Iterator[None]:
    """Run Hub calls; anything they raise comes out as one of our errors."""
    try:
        yield
    except WranglerError:
        raise
    except _HUB_ERRORS as exc:
        raise translate(exc, repo_id=repo_id, file=file, revision=revision) from exc


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from the hub; fall back to our own backoff
