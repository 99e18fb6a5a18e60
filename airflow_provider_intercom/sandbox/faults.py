"""
Fault injection: scripted faults for tests, and seeded random faults for soak runs.

Scripted faults (:meth:`FaultInjector.inject`) are queued and each one replaces the answer to one later
request, in order. Random faults hit a fraction ``fault_rate`` of requests, drawn from
``random.Random(fault_seed)`` so a run can be repeated exactly: the same seed gives the same sequence of
fault decisions for the same sequence of requests.

Most faults replace the answer, so the request has no effect (``429 500 502 503 408 drop empty200
html200``). Three let the request run: ``delay`` waits before it, ``late`` applies it and answers after a
delay, and ``late_drop`` applies it and then closes the connection without answering, the "applied but
not answered" case a client can only recover from by retrying an idempotent write.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

STATUS_FAULTS = ("429", "500", "502", "503", "408")
SIMPLE_FAULTS = (*STATUS_FAULTS, "drop", "empty200", "html200")
# Faults that let the request run and take effect: their answer comes late, or never.
LATE_FAULTS = ("late", "late_drop")
# Every fault that random mode can draw.
RANDOM_FAULT_KINDS = (*SIMPLE_FAULTS, *LATE_FAULTS)
# The default mix random mode draws from: what a busy real API and its load balancers produce.
RANDOM_FAULT_MIX = ("429", "500", "502", "503", "drop", "late", "late_drop", "empty200")

FaultSpec = str | tuple[str, float]
# How long ``late`` and ``late_drop`` hold the answer after the request took effect, unless told otherwise.
DEFAULT_LATE_MS = 3000.0


@dataclass(frozen=True)
class Fault:
    """
    One fault to apply to one request.

    :param kind: One of ``429 500 502 503 408 drop empty200 html200 delay late late_drop``.
    :param delay_ms: For ``delay``, the wait before the normal answer; for ``late`` and ``late_drop``, the
        wait after the request took effect (None: the sandbox's ``late_ms``).
    :param path_prefix: Apply only to a request whose path starts with this; any request when None.
    """

    kind: str
    delay_ms: float | None = None
    path_prefix: str | None = None

    @property
    def skips_request(self) -> bool:
        """
        Tell whether the fault replaces the answer, so the request has no effect.

        :return: False for ``delay``, ``late`` and ``late_drop``, which let the request take effect.
        """
        return self.kind != "delay" and self.kind not in LATE_FAULTS

    @classmethod
    def parse(cls, spec: FaultSpec, path_prefix: str | None = None) -> Fault:
        """
        Build a fault from the short form accepted by ``IntercomSandbox.inject``.

        :param spec: A name such as ``"503"``, ``"drop"`` or ``"late"``, or a ``("delay", milliseconds)``,
            ``("late", milliseconds)`` or ``("late_drop", milliseconds)`` tuple.
        :param path_prefix: Optional path prefix the fault is restricted to.
        :return: The fault.
        :raises ValueError: For an unknown fault.
        """
        if isinstance(spec, tuple):
            if len(spec) == 2 and spec[0] in ("delay", *LATE_FAULTS) and float(spec[1]) >= 0:
                return cls(spec[0], float(spec[1]), path_prefix)
            raise ValueError(
                f"unknown fault {spec!r}; the tuple forms are (kind, ms) for delay, late and late_drop"
            )
        if spec not in RANDOM_FAULT_KINDS:
            raise ValueError(
                f"unknown fault {spec!r}; expected one of {', '.join(RANDOM_FAULT_KINDS)} or ('delay', ms)"
            )
        return cls(spec, None, path_prefix)


def parse_fault_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...]:
    """
    Check a selection of random fault kinds.

    :param kinds: Kind names, as an iterable or one comma-separated string; None for the default mix.
    :return: The kinds, in the given order, without duplicates.
    :raises ValueError: For an unknown kind or an empty selection.
    """
    if kinds is None:
        return RANDOM_FAULT_MIX
    names = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    selected = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    unknown = [name for name in selected if name not in RANDOM_FAULT_KINDS]
    if unknown:
        raise ValueError(
            f"unknown fault kind(s) {', '.join(unknown)}; choose from {', '.join(RANDOM_FAULT_KINDS)}"
        )
    if not selected:
        raise ValueError(f"no fault kind selected; choose from {', '.join(RANDOM_FAULT_KINDS)}")
    return selected


class FaultInjector:
    """
    Decide which fault, if any, replaces the answer to each request.

    :param fault_rate: Fraction of requests, in [0, 1], that get a random fault.
    :param fault_seed: Seed of the random generator, for repeatable runs.
    :param fault_kinds: The kinds random faults are drawn from, evenly (a comma-separated string or an
        iterable); None for :data:`RANDOM_FAULT_MIX`.
    """

    def __init__(
        self,
        fault_rate: float = 0.0,
        fault_seed: int | None = None,
        fault_kinds: str | Iterable[str] | None = None,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], got {fault_rate}")
        self.fault_rate = fault_rate
        self.fault_kinds = parse_fault_kinds(fault_kinds)
        self._random = random.Random(fault_seed)
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._injected: Counter[str] = Counter()

    def inject(self, *faults: FaultSpec, path: str | None = None) -> None:
        """
        Queue faults for the next requests, one fault per request, in order.

        :param faults: Fault names or ``("delay" | "late" | "late_drop", ms)`` tuples.
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

    @property
    def injected(self) -> dict[str, int]:
        """
        Return how many faults of each kind were applied so far, scripted and random together.

        :return: ``{kind: count}``, only kinds applied at least once.
        """
        with self._lock:
            return dict(self._injected)

    def next_fault(self, path: str) -> Fault | None:
        """
        Take the fault for a request: the first queued one that matches its path, else maybe a random one.

        :param path: The request path (without query string).
        :return: The fault, or None to answer normally.
        """
        with self._lock:
            fault = self._next_fault(path)
            if fault is not None:
                self._injected[fault.kind] += 1
            return fault

    def _next_fault(self, path: str) -> Fault | None:
        for fault in self._queue:
            if fault.path_prefix is None or path.startswith(fault.path_prefix):
                self._queue.remove(fault)
                return fault
        # One draw per request (and one more to pick the kind) keeps the sequence a function of the seed.
        if self.fault_rate > 0 and self._random.random() < self.fault_rate:
            return Fault(self._random.choice(self.fault_kinds))
        return None
