"""The bounded automatic restart: backoff, the limit within the window, and the window sliding on."""

from __future__ import annotations

from llama_wrangler.server.restart_policy import MAX_RESTARTS_IN_WINDOW, RESTART_WINDOW_S, RestartPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_then_the_fourth_crash_in_a_window_gives_up() -> None:
    clock = FakeClock()
    policy = RestartPolicy(clock)
    delays = []
    for _ in range(MAX_RESTARTS_IN_WINDOW):
        delays.append(policy.next_delay())
        clock.now += 5
    assert delays == [1.0, 2.0, 4.0]
    assert policy.next_delay() is None
    # Giving up starts the count over: the next deliberate start gets the full allowance again.
    assert policy.next_delay() == 1.0


def test_crashes_older_than_the_window_no_longer_count() -> None:
    clock = FakeClock()
    policy = RestartPolicy(clock)
    assert policy.next_delay() == 1.0
    clock.now += 30
    assert policy.next_delay() == 2.0
    clock.now += RESTART_WINDOW_S - 29  # the first restart is now out of the window, the second is not
    assert policy.next_delay() == 2.0
    assert policy.next_delay() == 4.0
    assert policy.next_delay() is None


def test_reset_forgets_earlier_crashes() -> None:
    policy = RestartPolicy(FakeClock())
    for _ in range(MAX_RESTARTS_IN_WINDOW):
        policy.next_delay()
    policy.reset()
    assert policy.next_delay() == 1.0


def test_the_give_up_message_says_what_happened_and_what_to_do() -> None:
    message = RestartPolicy.give_up_message()
    assert "crashed 4 times within 60 s" in message and "not restarting" in message
    assert "Start it again" in message
