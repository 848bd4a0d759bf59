"""When a crashed server may be started again on its own: bounded, with backoff.

A server that crashed *after* being ready is restarted after 1, 2, then 4 s; the fourth crash within
60 s ends it (a crash loop would otherwise hide the cause behind endless restarts). Pure bookkeeping:
the caller owns the timer, so this is testable with a fake clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

RESTART_WINDOW_S = 60.0
MAX_RESTARTS_IN_WINDOW = 3
RESTART_BACKOFF_S = (1.0, 2.0, 4.0)

Clock = Callable[[], float]


class RestartPolicy:
    """At most ``MAX_RESTARTS_IN_WINDOW`` automatic restarts within ``RESTART_WINDOW_S`` seconds."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._restarts: deque[float] = deque()

    def reset(self) -> None:
        """Forget earlier crashes (a user started the server on purpose)."""
        self._restarts.clear()

    def next_delay(self) -> float | None:
        """Seconds to wait before restarting after a crash, recorded as one restart; None when the
        limit is reached (the count then starts over, for the next deliberate start)."""
        now = self._clock()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        if len(self._restarts) >= MAX_RESTARTS_IN_WINDOW:
            self._restarts.clear()
            return None
        # Read at call time, so a test can shorten the backoff.
        backoff = RESTART_BACKOFF_S
        delay = backoff[min(len(self._restarts), len(backoff) - 1)]
        self._restarts.append(now)
        return delay

    @staticmethod
    def give_up_message() -> str:
        return (f"llama-server crashed {MAX_RESTARTS_IN_WINDOW + 1} times within {RESTART_WINDOW_S:g} s; "
                "not restarting it again. Start it again when the cause is fixed.")
