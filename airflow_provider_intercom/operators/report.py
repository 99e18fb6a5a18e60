"""
Where each item of a task ended: the per-item report every bulk operator returns.

No operator keeps its own copy of this: a report means the same thing whichever task wrote it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_intercom.exceptions import IntercomAPIError, IntercomError, IntercomTransportError


class Outcome(enum.StrEnum):
    """How one item ended; the value is the report's key for it."""

    SUCCEEDED = "succeeded"
    NOT_FOUND = "not_found"
    FAILED = "failed"


def error_details(error: IntercomError) -> dict[str, Any]:
    """
    Describe a failed call as plain JSON for a report's ``failed`` list.

    :param error: what the hook raised after its retries.
    """
    if isinstance(error, IntercomAPIError):
        return error.to_dict()
    if isinstance(error, IntercomTransportError):
        return {"status": None, "code": "no_answer", "message": error.reason, "request_id": None}
    return {"status": None, "code": type(error).__name__, "message": str(error), "request_id": None}


def combine(
    outcomes: Iterable[tuple[Outcome, dict[str, Any] | None] | None],
) -> tuple[Outcome, dict[str, Any] | None]:
    """
    Return one outcome for an item that stands for several (an email's contacts, say).

    Any failure fails it; else any success succeeds it; else (none found, or none at all) it is not found.

    :param outcomes: the outcomes of what the item stands for; None for one not recorded.
    """
    known = [outcome for outcome in outcomes if outcome is not None]
    failure = next((outcome for outcome in known if outcome[0] is Outcome.FAILED), None)
    if failure is not None:
        return failure
    if any(kind is Outcome.SUCCEEDED for kind, _ in known):
        return Outcome.SUCCEEDED, None
    return Outcome.NOT_FOUND, None


class ItemReport:
    """
    Where each requested item ended: succeeded, not found, or failed (with the error).

    Every item lands in exactly one list, and the lists keep input order whatever order the work
    finished in.

    :param items: the requested items, deduplicated, in input order.
    """

    def __init__(self, items: Sequence[str]) -> None:
        self.items = list(items)
        self._outcomes: dict[str, tuple[Outcome, dict[str, Any] | None]] = {}

    def record(self, item: str, outcome: Outcome, error: dict[str, Any] | None = None) -> None:
        """
        Record how an item ended.

        :param item: the item.
        :param outcome: how it ended.
        :param error: the error as plain JSON, for a failed item.
        """
        if outcome is Outcome.FAILED:
            self._outcomes[item] = (outcome, error or {})
        else:
            self._outcomes[item] = (outcome, None)

    def succeeded(self, item: str) -> None:
        """
        Record that the item was done (or, in a dry run, would be).

        :param item: the item.
        """
        self.record(item, Outcome.SUCCEEDED)

    def not_found(self, item: str) -> None:
        """
        Record that Intercom does not know the item.

        :param item: the item.
        """
        self.record(item, Outcome.NOT_FOUND)

    def failed(self, item: str, error: dict[str, Any]) -> None:
        """
        Record that the item's call failed after its retries, with the error as plain JSON.

        :param item: the item.
        :param error: the error, see :func:`error_details`.
        """
        self.record(item, Outcome.FAILED, error)

    def succeed_all(self) -> None:
        """Record every item as done: what a dry run reports for writes it would make."""
        for item in self.items:
            self.succeeded(item)

    def outcome(self, item: str) -> tuple[Outcome, dict[str, Any] | None] | None:
        """
        Return ``(outcome, error)``, or None if the item has no outcome yet.

        :param item: the item.
        """
        return self._outcomes.get(item)

    def counts(self) -> str:
        """Return a short progress phrase such as ``3 not found, 1 failed``."""
        kinds = [kind for kind, _ in self._outcomes.values()]
        return f"{kinds.count(Outcome.NOT_FOUND)} not found, {kinds.count(Outcome.FAILED)} failed"

    @property
    def done(self) -> int:
        """Return how many items have an outcome."""
        return len(self._outcomes)

    def settle(self, targets: Mapping[str, Iterable[str]]) -> ItemReport:
        """
        Report requested items by the outcomes of what they stand for, see :func:`combine`.

        :param targets: each requested item, in order, and the items of this report it stands for.
        """
        settled = ItemReport(list(targets))
        for item, parts in targets.items():
            settled.record(item, *combine(map(self.outcome, parts)))
        return settled

    def as_dict(self, tag: dict[str, Any] | None, *, dry_run: bool, **extra: Any) -> dict[str, Any]:
        """
        Return the report as plain JSON.

        :param tag: the tag as ``{"type", "id", "name"}`` (id None when a dry run would create it).
        :param dry_run: whether writes were skipped.
        :param extra: more keys to include, e.g. how emails resolved.
        """
        missing = [item for item in self.items if item not in self._outcomes]
        if missing:
            raise RuntimeError(f"report has no outcome for {len(missing)} items, e.g. {missing[:3]}")
        report: dict[str, Any] = {
            "tag": tag,
            "requested": len(self.items),
            "succeeded": self._with(Outcome.SUCCEEDED),
            "not_found": self._with(Outcome.NOT_FOUND),
            "failed": [{"id": item, "error": self._outcomes[item][1]} for item in self._with(Outcome.FAILED)],
            "dry_run": dry_run,
        }
        report.update(extra)
        return report

    def _with(self, outcome: Outcome) -> list[str]:
        return [item for item in self.items if self._outcomes[item][0] is outcome]
