"""RateLimitPacer on a fake clock: when it waits, how long, and that threads share one budget."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_intercom.hooks.pacing import RateLimitPacer


class FakeClock:
    """A wall clock that moves only when someone sleeps."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pacer(clock: FakeClock) -> RateLimitPacer:
    return RateLimitPacer(max_wait=30.0, clock=clock.time, sleep=clock.sleep)


def call(pacer: RateLimitPacer) -> float:
    """One call as the hook makes it: reserve, then release when the answer is in."""
    waited = pacer.acquire()
    pacer.release()
    return waited


def headers(remaining: int, reset: float, limit: int = 10) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


def spend_with_others(
    pacer: RateLimitPacer, reset: float, own: int, others_per_call: int, limit: int = 100
) -> None:
    """Join a fresh window alone, then make ``own`` calls while others spend ``others_per_call`` per call."""
    pacer.update(headers(remaining=limit, reset=reset, limit=limit))
    remaining = limit
    for _ in range(own):
        pacer.acquire()
        remaining -= 1 + others_per_call
        pacer.update(headers(remaining=remaining, reset=reset, limit=limit))
        pacer.release()


def test_no_wait_without_headers(pacer, clock):
    for _ in range(100):
        assert pacer.acquire() == 0.0
    assert clock.slept == []


def test_no_wait_while_budget_is_plentiful(pacer, clock):
    # A window nobody else has spent: all of it is this pacer's.
    pacer.update(headers(remaining=30, reset=clock.now + 5, limit=30))
    assert [call(pacer) for _ in range(27)] == [0.0] * 27  # down to the low-water mark of 3
    assert clock.slept == []


def test_waits_until_reset_when_budget_is_spent(pacer, clock):
    reset = clock.now + 4
    pacer.update(headers(remaining=0, reset=reset))
    waited = pacer.acquire()
    assert 4.0 <= waited <= 4.25  # until the reset, plus at most the jitter
    assert clock.now >= reset


def test_low_budget_is_spread_over_the_rest_of_the_window(pacer, clock):
    start = clock.now
    reset = start + 5
    spend_with_others(pacer, reset, own=90, others_per_call=0)  # alone, down to the low-water mark
    assert (pacer.remaining, clock.now) == (10, start)
    released = []
    for _ in range(10):
        call(pacer)
        released.append(clock.now - start)
    # Ten calls left for five seconds: one slot per half second or so, all before the reset.
    assert released[0] == 0.0
    assert all(later - earlier >= 0.4 for earlier, later in zip(released, released[1:], strict=False))
    assert start + released[-1] < reset
    assert pacer.acquire() >= reset - clock.now  # the budget is spent: the fifth waits for the reset


def test_counts_own_calls_between_answers(pacer, clock):
    pacer.update(headers(remaining=12, reset=clock.now + 3, limit=12))
    # Down to the low-water mark of 3 at once; the tenth takes the first slot.
    assert [call(pacer) for _ in range(10)] == [0.0] * 10
    assert call(pacer) > 0.0  # at the low-water mark: each further call waits for its slot


def test_wait_is_capped(clock):
    pacer = RateLimitPacer(max_wait=2.0, clock=clock.time, sleep=clock.sleep)
    pacer.update(headers(remaining=0, reset=clock.now + 3600))  # a nonsense reset an hour away
    pacer.acquire()
    assert clock.slept[0] == 2.0


def test_new_window_forgets_old_figures(pacer, clock):
    pacer.update(headers(remaining=0, reset=clock.now - 1))  # a window that is already over
    assert pacer.acquire() == 0.0


def test_out_of_order_answers_keep_the_lowest_remaining(pacer, clock):
    reset = clock.now + 5
    pacer.update(headers(remaining=1, reset=reset))
    pacer.update(headers(remaining=7, reset=reset))  # an older answer, delivered late by another thread
    assert pacer.remaining == 1
    pacer.update(headers(remaining=9, reset=reset + 10))  # the next window replaces the figures
    assert (pacer.remaining, pacer.reset_at) == (9, reset + 10)


def test_429_exhausts_budget_until_reset(pacer, clock):
    pacer.update(headers(remaining=5, reset=clock.now + 2))
    pacer.exhaust_until(clock.now + 2)
    assert pacer.acquire() >= 2.0


def test_malformed_headers_are_ignored(pacer):
    pacer.update({"X-RateLimit-Remaining": "soon", "X-RateLimit-Reset": "later"})
    pacer.update({"X-RateLimit-Limit": "10"})
    assert (pacer.remaining, pacer.reset_at) == (None, None)


def test_threads_share_one_budget(pacer, clock):
    reset = clock.now + 10
    pacer.update(headers(remaining=5, reset=reset))
    released_at: list[float] = []
    lock = threading.Lock()

    def one_call() -> None:
        pacer.acquire()
        with lock:
            released_at.append(clock.time())
        pacer.release()

    threads = [threading.Thread(target=one_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(released_at) == 8
    # Never more calls before the reset than the window's budget; the others were held until it.
    assert sum(1 for moment in released_at if moment < reset) <= 5


def test_near_the_end_one_call_at_a_time(pacer, clock):
    reset = clock.now + 5
    spend_with_others(pacer, reset, own=90, others_per_call=0)  # alone, down to the low-water mark
    pacer.acquire()  # a call goes out and is never answered
    # Below the low-water mark the next call waits for that answer: the budget may be gone by
    # then. It never waits past the reset, when the new window's budget frees it.
    pacer.acquire()
    assert reset <= clock.now < reset + 1


def test_calls_in_flight_are_subtracted_from_the_servers_figure(pacer, clock):
    reset = clock.now + 5
    pacer.update(headers(remaining=50, reset=reset, limit=50))
    for _ in range(3):
        pacer.acquire()  # three calls in flight, none answered yet
    # The first answer says 45 left: other processes spent 2, and two of ours are still in flight.
    pacer.update(headers(remaining=45, reset=reset, limit=100))
    pacer.release()
    assert pacer.remaining == 43


def test_slot_releases_its_call_when_the_block_raises(pacer, clock):
    reset = clock.now + 5
    spend_with_others(pacer, reset, own=90, others_per_call=0)  # alone, down to the low-water mark

    def failed_call() -> None:
        with pacer.slot():
            raise ConnectionError("the call failed")

    with pytest.raises(ConnectionError):
        failed_call()
    # Released: the next call takes its spaced slot instead of waiting until the reset for the
    # answer of a call that is already over (see test_near_the_end_one_call_at_a_time).
    assert pacer.acquire() > 0.0
    assert clock.now < reset


# -- several processes spend one budget ------------------------------------------------------------------


def gap_between_two_calls(pacer: RateLimitPacer, clock: FakeClock) -> float:
    """Make two calls without news from the server; return how long the second waited after the first."""
    call(pacer)
    before = clock.now
    call(pacer)
    return clock.now - before


def test_a_window_others_spent_first_is_paced_from_the_first_call(pacer, clock):
    reset = clock.now + 10
    pacer.update(headers(remaining=30, reset=reset, limit=100))  # 70 spent by other processes
    assert call(pacer) == 0.0
    # Far above the low-water mark, yet the next call waits for its slot: the rest of the budget
    # must last the window, for them and for processes that start later.
    assert call(pacer) > 0.0


def test_a_shared_window_is_spent_only_in_this_pacers_share(pacer, clock):
    reset = clock.now + 10
    spend_with_others(pacer, reset, own=10, others_per_call=3)
    assert pacer.remaining == 60
    # Ten of the forty calls spent were this pacer's: its share of the 56 left above the reserve of 4
    # is fourteen, one call per fifteenth of the time left (alone, the sixty would go at once, down
    # to the low-water mark).
    left = reset - clock.now
    assert gap_between_two_calls(pacer, clock) == pytest.approx(left / 15, rel=0.1)


def test_less_than_one_call_of_share_waits_for_the_reset(pacer, clock):
    reset = clock.now + 10
    spend_with_others(pacer, reset, own=24, others_per_call=3)  # 96 spent, a quarter of them ours
    assert pacer.remaining == 4
    pacer.acquire()  # a share of 4 × 1/4 is one call
    pacer.release()
    assert pacer.acquire() >= reset - clock.now - 0.001  # none left: it waits for the next window
    assert clock.now >= reset


def test_the_last_windows_share_counts_from_the_next_ones_first_call(pacer, clock):
    reset = clock.now + 10
    spend_with_others(pacer, reset, own=10, others_per_call=3)
    clock.sleep(reset - clock.now)
    # The next window: its first answer shows nobody else's calls yet, but they share it as before.
    pacer.acquire()
    pacer.update(headers(remaining=99, reset=reset + 10, limit=100))
    pacer.release()
    # A quarter of 98 is 24.5 calls: one per 10 s / 25.5.
    assert gap_between_two_calls(pacer, clock) == pytest.approx(10 / 25.5, rel=0.05)


def test_alone_every_window_is_all_this_pacers(pacer, clock):
    for _ in range(2):
        reset = clock.now + 10
        spend_with_others(pacer, reset, own=80, others_per_call=0)
        clock.sleep(reset - clock.now)
    # Two windows spent alone: no wait but the two until the resets, however fast it spent.
    assert clock.slept == [10.0, 10.0]


def test_shared_calls_overlap_as_their_slots_come(pacer, clock):
    reset = clock.now + 10
    spend_with_others(pacer, reset, own=10, others_per_call=3)  # shared: fifteen of the sixty left
    pacer.acquire()
    start = clock.now
    pacer.acquire()  # the first is still out: shared, the second goes at its slot all the same
    # About a sixteenth of the time left; waiting for the first's answer would last until the reset.
    assert 0 < clock.now - start < (reset - start) / 8


def test_own_calls_out_when_a_window_begins_are_not_taken_for_others(pacer, clock):
    reset = clock.now + 10
    for _ in range(8):
        pacer.acquire()  # no figures yet: eight calls out at once
    for _ in range(8):
        # Each answer counts all eight: the server saw them before the first answer came back.
        pacer.update(headers(remaining=192, reset=reset, limit=200))
        pacer.release()
    # Alone: the rest of the budget goes at once, down to the low-water mark of 24 (3 × 8 out at once).
    assert [call(pacer) for _ in range(150)] == [0.0] * 150


def test_a_newcomer_claims_at_most_half_of_what_others_left(pacer, clock):
    reset = clock.now + 10
    pacer.update(headers(remaining=40, reset=reset, limit=100))  # 60 spent by others before it came
    # Half of the 36 left above the reserve of 4: one call per 10 s / 19 (the whole 36: 10 s / 37).
    assert gap_between_two_calls(pacer, clock) == pytest.approx(10 / 19, rel=0.02)
