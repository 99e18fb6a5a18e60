"""
Fixed-window rate limiting with Intercom's ``X-RateLimit-*`` headers.

Windows are aligned to whole multiples of the window length since the Unix epoch, so the window a request
falls in, and the whole-second ``X-RateLimit-Reset`` that ends it, are exact and predictable by clients.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Intercom spreads 10,000 calls a minute over 10-second windows; the sandbox is generous by default.
DEFAULT_LIMIT = 1000
DEFAULT_WINDOW_SECONDS = 10


@dataclass(frozen=True)
class RateLimitDecision:
    """
    The outcome of counting one request.

    :param allowed: Whether the request fits in the current window.
    :param limit: Requests allowed per window.
    :param remaining: Requests left in the window after this one.
    :param reset: Unix time at which the window resets.
    """

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        """
        Return the headers Intercom sends on every authenticated response.

        :return: ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (Unix seconds).
        """
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class FixedWindowRateLimiter:
    """
    Count requests in epoch-aligned windows of ``window_seconds``.

    :param limit: Requests allowed in one window.
    :param window_seconds: Window length in whole seconds.
    :param clock: Source of the current Unix time (injectable for tests).
    """

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or window_seconds < 1:
            raise ValueError("limit and window_seconds must be at least 1")
        self.limit = limit
        self.window_seconds = int(window_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = 0
        self._count = 0

    def window_end(self, now: float | None = None) -> int:
        """
        Return the Unix second at which the current window ends.

        :param now: The time to use; the clock's when None.
        :return: The next multiple of ``window_seconds``.
        """
        current = self._clock() if now is None else now
        return (int(current) // self.window_seconds + 1) * self.window_seconds

    def hit(self) -> RateLimitDecision:
        """
        Count one request and decide whether it is within the limit.

        :return: The decision and the header values to send.
        """
        with self._lock:
            reset = self.window_end()
            window_start = reset - self.window_seconds
            if window_start != self._window_start:
                self._window_start, self._count = window_start, 0
            self._count += 1
            allowed = self._count <= self.limit
            return RateLimitDecision(allowed, self.limit, max(self.limit - self._count, 0), reset)

    def exceeded_message(self) -> str:
        """
        Return Intercom's message for a 429.

        :return: e.g. ``Exceeded rate limit of 167 in 10_seconds``.
        """
        return f"Exceeded rate limit of {self.limit} in {self.window_seconds}_seconds"
