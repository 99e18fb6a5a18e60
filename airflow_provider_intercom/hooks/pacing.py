"""Client-side pacing from Intercom's ``X-RateLimit-*`` headers, shared by every thread of one hook."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager


class RateLimitPacer:
    """
    Hold requests back while the current rate-limit window has no budget left.

    Intercom counts calls in 10-second windows and says, on every authenticated answer, how many
    calls the window allows (``X-RateLimit-Limit``), how many are left (``X-RateLimit-Remaining``)
    and when the window resets (``X-RateLimit-Reset``, a Unix time). The budget is per workspace,
    so other processes may spend it too: the pacer trusts the latest figures the server sent and
    only counts its own calls in between. It never waits while the server says budget is left.

    :param max_wait: the longest single wait, in seconds, whatever the reset header says
        (protects against clock skew and nonsense headers).
    :param clock: wall-clock source returning Unix seconds (the reset header is wall-clock time).
    :param sleep: function used to wait; injectable for tests.
    """

    def __init__(
        self,
        max_wait: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self._next_slot = 0.0
        self._in_flight = 0  # calls reserved whose answer has not been recorded yet
        self._peak_in_flight = 0

    def acquire(self) -> float:
        """
        Reserve one call, waiting only as long as the window's budget requires.

        The call goes at once while budget is plentiful. When the budget runs low, calls go one
        at a time (each waits for the previous answer, at most until the reset) and spaced out
        over the rest of the window. Once the budget is spent, the call goes after the reset.

        :return: the number of seconds waited (0.0 when the call could go at once).
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if self.reset_at is not None and now >= self.reset_at:
                    # A new window began: the old figures say nothing about it.
                    self.remaining = self.reset_at = None
                    self._next_slot = 0.0
                if self.remaining is None or self.remaining > self._low_water():
                    self._reserve()
                    return waited
                # remaining is only ever set together with reset_at.
                until_reset = (self.reset_at or now) - now
                if self.remaining > 0 and self._in_flight == 0:
                    # Little budget left, shared with other workers and processes: one call at a
                    # time, spread evenly over the time left, rather than race into 429s.
                    slot = max(now, self._next_slot)
                    self._next_slot = slot + until_reset / (self.remaining + 1)
                    self._reserve()
                    spacing: float | None = min(slot - now, self.max_wait)
                elif self.remaining > 0:
                    # Another of this process's calls is still out: wait for its answer (and its
                    # fresh figures) before the next one goes.
                    spacing = None
                    delay = 0.005
                else:
                    spacing = None
                    # A little jitter so that threads released by one reset do not all fire at once.
                    delay = min(until_reset + random.uniform(0.0, 0.25), self.max_wait)
            if spacing is not None:
                # The call is reserved: wait for its slot (outside the lock) and go.
                if spacing > 0:
                    self._sleep(spacing)
                return waited + max(spacing, 0.0)
            self._sleep(delay)
            waited += delay

    @contextmanager
    def slot(self) -> Iterator[float]:
        """
        Hold one call for the ``with`` block: :meth:`acquire` on entry, :meth:`release` on exit.

        The release happens however the block ends, so a failed call never keeps its reservation.
        The block receives the seconds :meth:`acquire` waited.
        """
        waited = self.acquire()
        try:
            yield waited
        finally:
            self.release()

    def _reserve(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1
        self._in_flight += 1
        self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def release(self) -> None:
        """Record that a reserved call is over (answered or failed); call once per :meth:`acquire`."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def _low_water(self) -> int:
        # Spacing starts below a tenth of the window's budget, or earlier when this pacer has had
        # many calls out at once: near the end every one of them must still fit in the budget.
        return max(2, (self.limit or 0) // 10, 3 * self._peak_in_flight)

    def update(self, headers: Mapping[str, str]) -> None:
        """
        Record the budget a response reports; answers without the headers change nothing.

        :param headers: the response headers (case-insensitive mapping).
        """
        try:
            remaining = int(headers["X-RateLimit-Remaining"])
            reset_at = float(headers["X-RateLimit-Reset"])
        except (KeyError, TypeError, ValueError):
            return
        limit = headers.get("X-RateLimit-Limit")
        with self._lock:
            if limit is not None and limit.isdigit():
                self.limit = int(limit)
            if self.reset_at is None or reset_at > self.reset_at:
                self.reset_at, self.remaining = reset_at, remaining
            elif reset_at == self.reset_at and self.remaining is not None:
                # Answers from one window can arrive out of order across threads: keep the lowest.
                # The server's figure counts other processes' calls but not this one's calls still
                # in flight; the local count is the other way round: take both into account.
                self.remaining = min(self.remaining, remaining - max(0, self._in_flight - 1))

    def exhaust_until(self, reset_at: float) -> None:
        """
        Mark the budget as spent until ``reset_at``, after a 429 answer.

        :param reset_at: Unix time at which the server's window resets.
        """
        with self._lock:
            if self.reset_at is None or reset_at >= self.reset_at:
                self.reset_at, self.remaining = reset_at, 0
