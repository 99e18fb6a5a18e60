"""
What a sync will do and whether it may: the plan, the guards and the report, without a single request.

Both sync operators compute their plan with :func:`plan`, ask :class:`SyncGuard` for a verdict,
and build their report with :func:`sync_report`, so a contact sync and a company sync plan, refuse
and report alike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_intercom._validation import validate_flag, validate_int_range, validate_ratio
from airflow_provider_intercom.hooks.intercom import tag_summary
from airflow_provider_intercom.operators.report import ItemReport, Outcome

ItemOutcome = tuple[Outcome, dict[str, Any] | None]


@dataclass(frozen=True)
class SyncPlan:
    """
    The difference between the desired set and the current members.

    :param add: desired items no member matches, in desired order.
    :param remove: members no desired item matches, in member order.
    """

    add: list[str]
    remove: list[str]


def plan(desired: Sequence[str], current: Mapping[str, Collection[str]]) -> SyncPlan:
    """
    Return what to add and what to remove so that exactly ``desired`` carries the tag.

    :param desired: the items that must carry the tag, deduplicated.
    :param current: each current member and every key it is known by (a contact by its id; a
        company by Intercom's id and your ``company_id``), so a desired item matches on any key.
    """
    known = {key for keys in current.values() for key in keys}
    wanted = set(desired)
    return SyncPlan(
        add=[item for item in desired if item not in known],
        remove=[member for member, keys in current.items() if wanted.isdisjoint(keys)],
    )


class SyncGuard:
    """
    The guards' settings, validated, and their verdict on a plan.

    Every guard judges what the sync will really do: the desired set after resolving (contacts or
    companies that exist), and the removals against the current members. Raw inputs decide
    nothing: one email that matches no contact is an empty desired set, not a set of one.

    :param max_removals: the most members a sync may untag.
    :param max_removal_ratio: the largest share of members a sync may untag.
    :param allow_empty: whether an empty desired set may untag everyone.
    :param max_failed_ratio: the largest share of desired items that may resolve to nothing.
    """

    def __init__(
        self, max_removals: Any, max_removal_ratio: Any, allow_empty: Any, max_failed_ratio: float
    ) -> None:
        self.max_removals = validate_int_range(max_removals, "max_removals", 0, 10**9)
        self.max_removal_ratio = validate_ratio(max_removal_ratio, "max_removal_ratio")
        self.allow_empty = validate_flag(allow_empty, "allow_empty")
        self.max_failed_ratio = max_failed_ratio

    def may_trip(self, items: int, resolved: int, unresolved: int, current: int) -> bool:
        """
        Tell whether the worst case (every unverified item unknown) would trip a guard.

        :param items: the desired items, after dedupe.
        :param resolved: the desired contacts or companies known to exist.
        :param unresolved: the items that resolved to nothing or are not verified yet.
        :param current: the tag's current members.
        """
        return self._empty(resolved, current) or self._unreadable(items, unresolved)

    def refusal(self, items: int, resolved: int, unresolved: int, current: int, removals: int) -> str | None:
        """
        Return why the plan is refused, with the numbers and how to allow it; None if it may go.

        :param items: the desired items, after dedupe.
        :param resolved: the desired contacts or companies that exist.
        :param unresolved: the items that resolved to no contact or company.
        :param current: the tag's current members.
        :param removals: the members the sync would untag.
        """
        if self._empty(resolved, current):
            given = f" ({items} given, none of which resolved)" if items else ""
            return (
                f"the desired set is empty{given}, so the sync would remove the tag from all {current} "
                "members; if that is really meant, set allow_empty=True"
            )
        if self._unreadable(items, unresolved):
            return (
                f"{unresolved} of {items} desired items ({unresolved / items:.0%}) resolve to nothing, more "
                f"than max_failed_ratio={self.max_failed_ratio}: the export may hold the wrong column or "
                f"stale values; raise max_failed_ratio to at least {unresolved / items:.2f} if that is meant"
            )
        if removals > self.max_removals:
            return (
                f"the sync would remove the tag from {removals} members, more than max_removals="
                f"{self.max_removals}; raise max_removals to at least {removals} if that is meant"
            )
        if current and removals > self.max_removal_ratio * current:
            return (
                f"the sync would remove the tag from {removals} of {current} members "
                f"({removals / current:.0%}), more than max_removal_ratio={self.max_removal_ratio}; "
                f"raise max_removal_ratio to at least {removals / current:.2f} if that is meant"
            )
        return None

    def _empty(self, resolved: int, current: int) -> bool:
        return resolved == 0 and current > 0 and not self.allow_empty

    def _unreadable(self, items: int, unresolved: int) -> bool:
        return bool(items) and unresolved > self.max_failed_ratio * items


def unresolved(outcome: ItemOutcome | None) -> bool:
    """
    Tell whether a look-up found nothing (or failed); None means it was not looked up.

    :param outcome: the look-up's outcome.
    """
    return outcome is not None and outcome[0] is not Outcome.SUCCEEDED


def sync_report(
    tag: dict[str, Any],
    desired: Mapping[str, ItemOutcome | None],
    adds: ItemReport,
    removes: ItemReport,
    *,
    current: int,
    dry_run: bool,
    **extra: Any,
) -> dict[str, Any]:
    """
    Return a sync's report: where every desired item and every removal ended, as plain JSON.

    :param tag: the tag.
    :param desired: each desired item and its outcome; None for one that carried the tag already.
    :param adds: the planned additions.
    :param removes: the planned removals; any that did not fail is removed (or already gone).
    :param current: how many members the tag had.
    :param dry_run: whether writes were skipped.
    :param extra: more keys, e.g. how emails resolved.
    """
    added, unchanged, not_found, failed = [], 0, [], []
    for item, outcome in desired.items():
        if outcome is None:
            unchanged += 1
        elif outcome[0] is Outcome.NOT_FOUND:
            not_found.append(item)
        elif outcome[0] is Outcome.FAILED:
            failed.append({"id": item, "error": outcome[1]})
        else:
            added.append(item)
    removed = []
    for member in removes.items:
        outcome = removes.outcome(member)
        if outcome is not None and outcome[0] is Outcome.FAILED:
            failed.append({"id": member, "error": outcome[1]})
        else:
            removed.append(member)
    return {
        "tag": tag_summary(tag),
        "desired": len(desired),
        "current": current,
        "added": added,
        "removed": removed,
        "unchanged": unchanged,
        "not_found": not_found,
        "failed": failed,
        "dry_run": dry_run,
        "plan": {"add": len(adds.items), "remove": len(removes.items)},
        **extra,
    }


def sync_summary(report: dict[str, Any]) -> tuple[Any, ...]:
    """
    Return a sync's outcome log line, as a format and its arguments.

    :param report: the sync's report.
    """
    return (
        "%sSync of %r: %d desired, %d current; added %d, removed %d, unchanged %d, not found %d, failed %d",
        "Dry run: " if report["dry_run"] else "",
        report["tag"]["name"],
        report["desired"],
        report["current"],
        len(report["added"]),
        len(report["removed"]),
        report["unchanged"],
        len(report["not_found"]),
        len(report["failed"]),
    )
