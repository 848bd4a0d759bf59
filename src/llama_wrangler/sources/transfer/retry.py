"""How often and how patiently transient failures are retried (one policy for whole files and for the
parts of a ranged transfer)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from llama_wrangler.errors import DownloadError
from llama_wrangler.sources.transfer.net_words import host_of, network_words
from llama_wrangler.sources.transfer.status import SourceWording, TransientError

MAX_RETRY_AFTER_S = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried."""

    retries: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_unreachable: bool = True  # False: a host that refuses the connection fails at once

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # Retry-After is honoured, within reason: a server asking for an hour gets two minutes.
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        return min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (attempt - 1))

    def wait_after(self, exc: httpx.TransportError | TransientError, attempt: int, wording: SourceWording,
                   name: str, *, what: str = "") -> float:
        """The wait before trying again after ``exc``, the ``attempt``-th failure in a row; raises instead
        when there is no next try (a refused connection this policy does not retry, or the retries are
        used up). ``what`` says what was retried (" of one part")."""
        if isinstance(exc, httpx.ConnectError) and not self.retry_unreachable:
            raise wording.unreachable(exc) from exc
        if attempt > self.retries:
            reason = (network_words(exc, host_of(exc, wording.server)) if isinstance(exc, httpx.TransportError)
                      else str(exc))
            raise DownloadError(f"Gave up downloading {name} after {self.retries} retries{what}: {reason}",
                                hint="Run the download again to resume it.") from exc
        return self.delay(attempt, exc.retry_after if isinstance(exc, TransientError) else None)
