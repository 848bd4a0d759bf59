"""Where the stable endpoint's requests go, shared between the proxy's threads and the GUI thread.

The gate is in one of three states: *ready* (a backend URL serving a model), *waiting* (a model is being
started or swapped in: requests wait for it) or *down* (nothing will come: requests get the reason).
Every request holds a lease on the backend it was sent to, so a swap can wait for the old server's
requests to finish (:meth:`wait_drained`) before that server is stopped.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass


class BackendUnavailable(Exception):  # noqa: N818  (a condition the proxy answers with 503, not a bug)
    """No backend will serve this request; ``str()`` is the reason, written for the client."""


@dataclass(frozen=True)
class Lease:
    """One request's claim on a backend; give it back with :meth:`BackendGate.release`."""

    url: str
    model_id: str


class BackendGate:
    def __init__(self, down_reason: str = "The server is stopped.") -> None:
        self._cond = threading.Condition()
        self._url = ""
        self._model_id = ""
        self._down = down_reason
        self._in_flight: Counter[str] = Counter()
        self._refused: dict[str, str] = {}  # model id -> why it cannot be served (until asked for again)

    # ---------------------------------------------------------------- written by the GUI thread
    def set_ready(self, url: str, model_id: str) -> None:
        with self._cond:
            self._url, self._model_id, self._down = url, model_id, ""
            self._cond.notify_all()

    def set_waiting(self, model_id: str) -> None:
        """``model_id`` is on its way: new requests wait for it (those already sent carry on)."""
        with self._cond:
            self._url, self._model_id, self._down = "", model_id, ""
            self._cond.notify_all()

    def set_down(self, reason: str) -> None:
        with self._cond:
            self._url, self._model_id, self._down = "", "", reason
            self._cond.notify_all()

    # ---------------------------------------------------------------- used by request threads
    @property
    def model_id(self) -> str:
        """The model served or being started ('' when down)."""
        with self._cond:
            return self._model_id

    def expect(self, model_id: str) -> bool:
        """Start waiting for ``model_id`` unless it is already served or on its way; True if that changed
        anything (the caller then asks for the swap). Atomic, so a request that asks for a swap can
        never see the old state again and fail before the swap begins."""
        with self._cond:
            if self._model_id == model_id:
                return False
            self._refused.pop(model_id, None)
            self._url, self._model_id, self._down = "", model_id, ""
            self._cond.notify_all()
            return True

    def refuse(self, model_id: str, reason: str) -> None:
        """``model_id`` cannot be served: requests waiting for it get ``reason``."""
        with self._cond:
            self._refused[model_id] = reason
            self._cond.notify_all()

    def acquire(self, timeout_s: float, model_id: str | None = None) -> Lease:
        """Wait (at most ``timeout_s``) for a ready backend — serving ``model_id`` when one is named —
        and lease it. Raises :class:`BackendUnavailable` when the gate goes down or time runs out."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if self._down:
                    raise BackendUnavailable(self._down)
                if model_id is not None and model_id in self._refused:
                    raise BackendUnavailable(self._refused[model_id])
                if self._url and (model_id is None or self._model_id == model_id):
                    self._in_flight[self._url] += 1
                    return Lease(self._url, self._model_id)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BackendUnavailable(f"The model did not become ready within {timeout_s:g} s.")
                self._cond.wait(left)

    def release(self, lease: Lease) -> None:
        with self._cond:
            self._in_flight[lease.url] -= 1
            if self._in_flight[lease.url] <= 0:
                del self._in_flight[lease.url]
            self._cond.notify_all()

    def in_flight(self, url: str) -> int:
        with self._cond:
            return self._in_flight[url]

    def wait_drained(self, url: str, timeout_s: float) -> bool:
        """Block until no request is in flight on ``url`` (True) or ``timeout_s`` passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight[url] <= 0, timeout_s)
