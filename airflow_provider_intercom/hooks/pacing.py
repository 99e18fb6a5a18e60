"""Client-side pacing from Intercom's ``X-RateLimit-*`` headers, shared by every thread of one hook."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

# However many processes shared the last window, assume at least this share of the next one.
MIN_SHARE = 0.05
# A pacer whose first answer shows others' calls claims at most this share of the window.
NEWCOMER_SHARE = 0.5
# Calls of a shared window left for tasks that start during it (their first call cannot know the
# figures): a fortieth of the limit, at least this many.
RESERVE_MIN = 4


class RateLimitPacer:
    """
    Hold requests back while the current rate-limit window has no budget left.

    Intercom counts calls in 10-second windows and says, on every authenticated answer, how many
    calls the window allows (``X-RateLimit-Limit``), how many are left (``X-RateLimit-Remaining``)
    and when the window resets (``X-RateLimit-Reset``, a Unix time). The budget is per workspace,
    so other processes may spend it too: the pacer trusts the latest figures the server sent and
    only counts its own calls in between. Alone, it never waits while the server says budget is left.

    Other processes may share the window: the pacer sees it when the server counts more calls than
    it sent. It then counts only its share of what is left (the part of the calls spent since its
    first answer in the window that were its own; at most half, for a pacer whose first answer
    showed others' calls), leaves a few calls unspent for processes that start later, and spreads
    every call over the rest of the window, so that together they stay within the budget instead
    of each spending all of it. The share of the last window counts from the first call of the
    next one, when every process starts again at once.

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
        # Since this pacer's first answer in the window of reset_at: the remaining budget it said,
        # and the calls this pacer sent after it.
        self._joined_at_remaining = 0
        self._own_since_joined = 0
        # The share of the last window this pacer spent in: the guess for the next one's share.
        self._share = 1.0
        # Whether others had spent the window before this pacer's first answer in it.
        self._others_before_joined = False

    def acquire(self) -> float:
        """
        Reserve one call, waiting only as long as the window's budget requires.

        The call goes at once while budget is plentiful and nobody else spends it. When the budget
        runs low, calls go one at a time (each waits for the previous answer, at most until the
        reset), spaced out over the rest of the window. When it is shared, every call is spaced
        out so, its slots overlapping. Once the budget (or this pacer's share of it) is spent, the
        call goes after the reset.

        :return: the number of seconds waited (0.0 when the call could go at once).
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if self.reset_at is not None and now >= self.reset_at:
                    # A new window began: the old figures say nothing about it.
                    self._close_window()
                if self._goes_at_once():
                    self._reserve()
                    return waited
                # remaining is only ever set together with reset_at.
                until_reset = (self.reset_at or now) - now
                # Alone, this is the remaining budget; shared, less than one call means none.
                mine = self._my_remaining()
                if mine >= 1 and (self._in_flight == 0 or self._shared()):
                    # Little budget left, or a shared one: this pacer's share spread evenly over
                    # the time left, rather than race into 429s. Alone, one call at a time; shared,
                    # calls overlap as their slots come (its reserve keeps it within the budget).
                    slot = max(now, self._next_slot)
                    self._next_slot = slot + until_reset / (mine + 1)
                    self._reserve()
                    spacing: float | None = min(slot - now, self.max_wait)
                elif mine >= 1:
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
            self._own_since_joined += 1
        self._in_flight += 1
        self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def release(self) -> None:
        """Record that a reserved call is over (answered or failed); call once per :meth:`acquire`."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def _measured_share(self) -> float:
        # The part of the calls spent since this pacer's first answer in the window that were its
        # own: 1 while nobody else spends the budget.
        spent = self._joined_at_remaining - (self.remaining or 0)
        if spent <= self._own_since_joined:
            return 1.0
        return max(self._own_since_joined, 1) / spent

    def _my_remaining(self) -> float:
        # Processes that shared the last window most likely share this one too, from its first
        # call: the smaller of the two shares counts. Shared, a few calls stay unspent: a process
        # that starts late knows nothing of the budget until its first call is answered.
        remaining = self.remaining or 0
        if not self._shared():
            return float(remaining)
        reserve = max(RESERVE_MIN, (self.limit or 0) // 40)
        return max(0, remaining - reserve) * min(self._share, self._measured_share())

    def _shared(self) -> bool:
        # Other processes spend this budget too: then every call is paced, so that the budget lasts
        # the whole window and a process that starts late still finds some.
        return self._others_before_joined or min(self._share, self._measured_share()) < 1.0

    def _goes_at_once(self) -> bool:
        # No figures yet in this window, or alone in it with budget above the low-water mark.
        if self.remaining is None:
            return True
        return not self._shared() and self._my_remaining() > self._low_water()

    def _close_window(self) -> None:
        if self.remaining is not None and self._own_since_joined:
            self._share = max(MIN_SHARE, self._measured_share())
        self.remaining = self.reset_at = None
        self._own_since_joined = 0
        self._next_slot = 0.0

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
                self._close_window()
                self.reset_at, self.remaining = reset_at, remaining
                # The calls still out were sent in this window too, whether or not counted yet.
                self._joined_at_remaining = remaining
                self._own_since_joined = max(0, self._in_flight - 1)
                # The server counted more calls than this pacer has out: others spend it too.
                self._others_before_joined = (
                    self.limit is not None and self.limit - remaining > self._in_flight
                )
                if self._others_before_joined:
                    # At least one other process: until its own calls tell, claim at most half.
                    self._share = min(self._share, NEWCOMER_SHARE)
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
