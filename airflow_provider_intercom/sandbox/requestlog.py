"""The log of the requests a sandbox answered, which tests read to see what a client sent."""

from __future__ import annotations

import copy
import threading
from typing import Any


class RequestLog:
    """
    One entry per answered request, oldest first; safe to use from the server's threads.

    Each entry is ``{"method", "path", "query", "status", "version", "body", "time", "reset_at", "fault"}``
    (see ``IntercomSandbox.requests``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def append(self, entry: dict[str, Any]) -> None:
        """
        Add one answered request.

        :param entry: The request's entry.
        """
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """
        Return a copy of the entries, which the caller may change freely.

        :return: The entries, oldest first.
        """
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self) -> None:
        """Forget the requests logged so far."""
        with self._lock:
            self._entries.clear()
