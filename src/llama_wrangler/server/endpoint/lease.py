"""What the scheduler hands out and takes in: backend snapshots, leases, and the refusal a client gets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

ANY_MODEL = ""  # a request that names no model: served by whichever model is loaded
PRIMARY_SLOT = "primary"  # the first model server (the only one when models are not kept side by side)


@dataclass(frozen=True)
class Backend:
    """One model server as the endpoint sees it (taken on the supervisor's thread, handed over whole)."""

    state: str = "stopped"
    url: str = ""  # the ready server's base URL ('' unless ready)
    model_id: str = ""  # the model the current process serves or loads
    wanted: str = ""  # the model the supervisor works towards ('' when told to stop, or it gave up)
    error: str = ""  # a short reason when it crashed
    pid: int = 0
    focus: bool = False  # the model the window shows: what a request naming no model gets


@dataclass(frozen=True)
class Lease:
    """One request's claim on a backend; give it back with :meth:`ModelScheduler.release`."""

    url: str
    model_id: str


class Unavailable(Exception):  # noqa: N818  (a condition answered with an HTTP error, not a bug)
    """No backend will serve this request; ``str()`` is the reason, written for the client."""

    def __init__(self, message: str, *, status: int = 503, code: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def headers(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` (the CORS headers) plus ``Retry-After`` when the client is told to come back."""
        return base if self.retry_after is None else {**base, "Retry-After": str(self.retry_after)}


@dataclass(eq=False)
class Waiter:
    model: str
    since: float
    future: asyncio.Future[Lease] | None = None  # None: a demand only (a load asked for; no request waits)
    done: bool = field(default=False)


@dataclass(frozen=True)
class ResidentView:
    """A loaded (or loading) model, for ``/models``, ``/api/ps`` and ``llama-wrangler ps``."""

    model: str
    slot: str
    state: str
    pid: int
    in_flight: int
    queued: int
    idle_s: float  # seconds since its last request finished (0 while busy)
    ttl_s: float | None  # unloaded after this many idle seconds (None: never by idle time)
    pinned: bool
    by_user: bool  # loaded from the window, tray or command line (not by a request)
    ram_bytes: int  # the estimate, with its prompt cache's limit
    vram_bytes: int
    default: bool = False  # requests that name no model get this one
    cache_bytes: int = 0  # the part of ram_bytes kept for the prompt cache (it fills with use)


def down_reason(slots: list[Backend], *, load_on_request: bool) -> str:
    """Why no model answers (every server is stopped or crashed), and what to do about it."""
    crashed = [b for b in slots if b.state == "crashed" and b.error]
    reason = f"The model server crashed: {crashed[0].error}" if crashed else "The model server is stopped."
    if load_on_request:
        return f"{reason} A request naming a model loads it."
    return f"{reason} Start a model in Llama Wrangler first."
