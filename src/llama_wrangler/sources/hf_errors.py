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

from llama_wrangler.errors import SourceError, WranglerError
from llama_wrangler.sources.transfer.net_words import host_of, network_words
from llama_wrangler.sources.transfer.status import SourceWording, TransientError, retry_after_seconds
from llama_wrangler.sources.transfer.status import status_error as transfer_status_error

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


class HubWording(SourceWording):
    """The Hub's words for failures on ``repo_id`` (and ``file`` at ``revision``); its ``X-Error-Code``
    (or ``error_code``, for huggingface_hub's typed exceptions) names the failure exactly."""

    def __init__(self, repo_id: str, *, file: str | None = None, revision: str | None = None,
                 error_code: str | None = None) -> None:
        super().__init__("the Hub", f"{file} in {repo_id}" if file else repo_id,
                         label=f"{file} from {repo_id}" if file else repo_id)
        self.repo_id = repo_id
        self.file = file
        self.revision = revision
        self.error_code = error_code

    def special(self, status: int, headers: httpx.Headers) -> WranglerError | None:
        code = self.error_code or headers.get("X-Error-Code")
        if code == "GatedRepo":
            return GatedRepoAccessError(GATED_MESSAGE)
        if code == "RevisionNotFound":
            return HubNotFoundError(f"Revision {self.revision!r} does not exist in {self.repo_id}.")
        if code == "EntryNotFound":
            return self._no_file()
        if code == "RepoNotFound":
            return self._no_repo()
        return None

    def not_found(self) -> WranglerError:
        return self._no_file() if self.file else self._no_repo()

    def refused(self, status: int) -> WranglerError:
        if status == 401:
            return SourceError(f"The Hub refused access to {self.what} (401).",
                               hint="Set a valid Hugging Face token in Settings.")
        return SourceError(f"The Hub forbids access to {self.what} ({status}).",
                           hint="Check that your token may read this repo.")

    def _no_file(self) -> WranglerError:
        return HubNotFoundError(f"{self.file or 'The file'} does not exist in {self.repo_id}"
                                f"{f' at {self.revision}' if self.revision else ''}.")

    def _no_repo(self) -> WranglerError:
        return HubNotFoundError(f"{self.repo_id} was not found on the Hub.",
                                hint="If it is private, set a token in Settings.")


def status_error(status: int, *, repo_id: str, file: str | None = None, revision: str | None = None,
                 retry_after: float | None = None, error_code: str | None = None) -> WranglerError:
    """Our error for an HTTP status (and the hub's ``X-Error-Code``) on ``repo_id``/``file``."""
    return transfer_status_error(status, HubWording(repo_id, file=file, revision=revision, error_code=error_code),
                                 retry_after=retry_after)


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
                            retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if isinstance(exc, httpx.HTTPStatusError):
        return transfer_status_error(exc.response.status_code,
                                     HubWording(repo_id, file=file, revision=revision), exc.response.headers)
    if isinstance(exc, (*_TRANSPORT_ERRORS, ConnectionError, TimeoutError)):
        return TransientError(network_words(exc, host_of(exc, "the Hub"), check="HF_ENDPOINT"))
    if isinstance(exc, OSError):
        return SourceError(f"The Hub request failed: {exc.strerror or type(exc).__name__}.")
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

