"""
Fault injection: scripted faults for tests, and seeded random faults for soak runs.

Scripted faults (:meth:`FaultInjector.inject`) are queued and each one replaces the answer to one later
request, in order. Random faults hit a fraction ``fault_rate`` of requests, drawn from
``random.Random(fault_seed)`` so a run can be repeated exactly.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass

STATUS_FAULTS = ("429", "500", "502", "503", "408")
SIMPLE_FAULTS = (*STATUS_FAULTS, "drop", "empty200", "html200")
# The mix random mode draws from: what a busy real API and its load balancers produce.
RANDOM_FAULT_MIX = ("429", "500", "503", "drop")

FaultSpec = str | tuple[str, float]


@dataclass(frozen=True)
class Fault:
    """
    One fault to apply to one request.

    :param kind: One of ``429 500 502 503 408 drop empty200 html200 delay``.
    :param delay_ms: Delay before the normal answer, for ``delay``.
    :param path_prefix: Apply only to a request whose path starts with this; any request when None.
    """

    kind: str
    delay_ms: float = 0.0
    path_prefix: str | None = None

    @property
    def skips_request(self) -> bool:
        """
        Tell whether the fault replaces the answer, so the request has no effect.

        :return: False only for ``delay``.
        """
        return self.kind != "delay"

    @classmethod
    def parse(cls, spec: FaultSpec, path_prefix: str | None = None) -> Fault:
        """
        Build a fault from the short form accepted by ``IntercomSandbox.inject``.

        :param spec: A name such as ``"503"`` or ``"drop"``, or ``("delay", milliseconds)``.
        :param path_prefix: Optional path prefix the fault is restricted to.
        :return: The fault.
        :raises ValueError: For an unknown fault.
        """
        if isinstance(spec, tuple):
            if len(spec) == 2 and spec[0] == "delay" and float(spec[1]) >= 0:
                return cls("delay", float(spec[1]), path_prefix)
            raise ValueError(f"unknown fault {spec!r}; the only tuple form is ('delay', milliseconds)")
        if spec not in SIMPLE_FAULTS:
            raise ValueError(
                f"unknown fault {spec!r}; expected one of {', '.join(SIMPLE_FAULTS)} or ('delay', ms)"
            )
        return cls(spec, 0.0, path_prefix)


class FaultInjector:
    """
    Decide which fault, if any, replaces the answer to each request.

    :param fault_rate: Fraction of requests, in [0, 1], that get a random fault.
    :param fault_seed: Seed of the random generator, for repeatable runs.
    """

    def __init__(self, fault_rate: float = 0.0, fault_seed: int | None = None) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], got {fault_rate}")
        self.fault_rate = fault_rate
        self._random = random.Random(fault_seed)
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()

    def inject(self, *faults: FaultSpec, path: str | None = None) -> None:
        """
        Queue faults for the next requests, one fault per request, in order.

        :param faults: Fault names or ``("delay", ms)`` tuples.
        :param path: Restrict these faults to requests whose path starts with this prefix.
        """
        parsed = [Fault.parse(spec, path) for spec in faults]
        with self._lock:
            self._queue.extend(parsed)

    @property
    def pending(self) -> int:
        """
        Return how many scripted faults are still queued.

        :return: The count.
        """
        with self._lock:
            return len(self._queue)

    def next_fault(self, path: str) -> Fault | None:
        """
        Take the fault for a request: the first queued one that matches its path, else maybe a random one.

        :param path: The request path (without query string).
        :return: The fault, or None to answer normally.
        """
        with self._lock:
            for fault in self._queue:
                if fault.path_prefix is None or path.startswith(fault.path_prefix):
                    self._queue.remove(fault)
                    return fault
            # One draw per request (and one more to pick the kind) keeps the sequence a function of the seed.
            if self.fault_rate > 0 and self._random.random() < self.fault_rate:
                return Fault(self._random.choice(RANDOM_FAULT_MIX))
            return None
