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


def test_no_wait_without_headers(pacer, clock):
    for _ in range(100):
        assert pacer.acquire() == 0.0
    assert clock.slept == []


def test_no_wait_while_budget_is_plentiful(pacer, clock):
    pacer.update(headers(remaining=30, reset=clock.now + 5, limit=100))
    assert [call(pacer) for _ in range(20)] == [0.0] * 20  # down to the low-water mark of 10
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
    pacer.update(headers(remaining=4, reset=reset, limit=100))
    released = []
    for _ in range(4):
        call(pacer)
        released.append(clock.now - start)
    # Four calls left for five seconds: one slot per second or so, all before the reset.
    assert released[0] == 0.0
    assert all(later - earlier >= 0.9 for earlier, later in zip(released, released[1:], strict=False))
    assert start + released[-1] < reset
    assert pacer.acquire() >= reset - clock.now  # the budget is spent: the fifth waits for the reset


def test_counts_own_calls_between_answers(pacer, clock):
    pacer.update(headers(remaining=12, reset=clock.now + 3, limit=100))
    assert [call(pacer) for _ in range(3)] == [0.0, 0.0, 0.0]  # the third takes the first slot
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
    pacer.update(headers(remaining=5, reset=reset, limit=100))
    pacer.acquire()  # a call goes out and is never answered
    # Below the low-water mark the next call waits for that answer: the budget may be gone by
    # then. It never waits past the reset, when the new window's budget frees it.
    pacer.acquire()
    assert reset <= clock.now < reset + 1


def test_calls_in_flight_are_subtracted_from_the_servers_figure(pacer, clock):
    reset = clock.now + 5
    pacer.update(headers(remaining=50, reset=reset, limit=100))
    for _ in range(3):
        pacer.acquire()  # three calls in flight, none answered yet
    # The first answer says 45 left: other processes spent 2, and two of ours are still in flight.
    pacer.update(headers(remaining=45, reset=reset, limit=100))
    pacer.release()
    assert pacer.remaining == 43


def test_slot_releases_its_call_when_the_block_raises(pacer, clock):
    reset = clock.now + 5
    pacer.update(headers(remaining=5, reset=reset, limit=100))

    def failed_call() -> None:
        with pacer.slot():
            raise ConnectionError("the call failed")

    with pytest.raises(ConnectionError):
        failed_call()
    # Released: the next call takes its spaced slot instead of waiting until the reset for the
    # answer of a call that is already over (see test_near_the_end_one_call_at_a_time).
    assert pacer.acquire() > 0.0
    assert clock.now < reset
