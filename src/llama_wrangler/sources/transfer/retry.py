"""How often and how patiently transient failures are retried (one policy for whole files and for the
parts of a ranged transfer)."""

from __future__ import annotations

from dataclasses import dataclass

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
