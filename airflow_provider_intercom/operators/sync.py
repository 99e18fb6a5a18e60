"""
Desired-state tag sync: after the task, exactly the given contacts (or companies) carry the tag.

The operator reads who carries the tag now, computes what to add and what to remove, and applies
only that difference. A guard refuses, before any write, a sync that would remove more than
``max_removals`` members or more than ``max_removal_ratio`` of them, whose desired set resolves to
no contact (or company) at all, or more of whose desired items resolve to nothing than
``max_failed_ratio`` allows: an export that came back empty, or with the wrong column, must never
strip a tag from everyone. The guards count what the items resolved to, never the raw input.

The report (XCom, plain JSON)::

    {"tag", "desired", "current", "added": [...], "removed": [...], "unchanged": n,
     "not_found": [...], "failed": [{"id", "error"}], "dry_run", "plan": {"add": n, "remove": n}}

Every desired item is added, unchanged, not found or failed; every current member not desired is
removed or failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_intercom.exceptions import IntercomPartialFailureError, IntercomSyncGuardError
from airflow_provider_intercom.operators._bulk import send_companies, tag_contacts
from airflow_provider_intercom.operators._plan import (
    ItemReport,
    apply_each,
    check_max_items,
    tag_summary,
    validate_batch_size,
    validate_flag,
    validate_int_range,
    validate_ratio,
    validate_workers,
)
from airflow_provider_intercom.operators.tags import _CompaniesOperator, _ContactsOperator, _TagTaskOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class _SyncGuard:
    """
    The guards' settings, validated, and their verdict on a plan.

    Every guard judges what the sync will really do: the desired set after resolving (contacts or
    companies that exist), and the removals against the current members. Raw inputs decide
    nothing: one email that matches no contact is an empty desired set, not a set of one.
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


class _SyncArguments(_TagTaskOperator):
    """
    The guard arguments and the tag look-up of both sync operators.

    It comes first among a sync operator's bases, before the contact or company inputs: an
    operator class, so that Airflow's ``partial()`` checks know its arguments.
    """

    def __init__(
        self,
        *,
        max_removals: int = 100,
        max_removal_ratio: float = 0.2,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_removals = max_removals
        self.max_removal_ratio = max_removal_ratio
        self.allow_empty = allow_empty

    def _guard(self, max_failed_ratio: float) -> _SyncGuard:
        return _SyncGuard(self.max_removals, self.max_removal_ratio, self.allow_empty, max_failed_ratio)

    def _existing_tag(self) -> dict[str, Any]:
        """Look the tag up without creating it; its id is None while it does not exist."""
        if self.tag_id is not None:
            return self.hook.find_tag(self.tag_id)
        name = str(self.tag_name)
        return self.hook.find_tag_by_name(name) or {"type": "tag", "id": None, "name": name}


def _unresolved(outcome: tuple[str, Any] | None) -> bool:
    """Tell whether a look-up found nothing (or failed); None means it was not looked up."""
    return outcome is not None and outcome[0] != "succeeded"


def _conclude(
    operator: _TagTaskOperator,
    context: Context,
    report: dict[str, Any],
    refusal: str | None,
    max_failed_ratio: float,
) -> dict[str, Any]:
    """Record the tag link; refuse a guarded plan, return a dry run's plan, or check ``max_failed_ratio``."""
    operator._record_tag_link(context, report["tag"])
    plan = report["plan"]
    if refusal:
        context["ti"].xcom_push(key="return_value", value=report)  # the plan survives the refusal
        raise IntercomSyncGuardError(
            f"Refusing to sync the tag {report['tag']['name']!r}: {refusal}. Nothing was written; "
            "the plan is in this task's XCom (return_value).",
            report,
        )
    operator.log.info(
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
    missed = len(report["not_found"]) + len(report["failed"])
    allowed = max_failed_ratio * (report["desired"] + plan["remove"])
    if missed > allowed:
        context["ti"].xcom_push(key="return_value", value=report)
        raise IntercomPartialFailureError(
            f"{missed} items of the sync were not done ({len(report['not_found'])} not found, "
            f"{len(report['failed'])} failed); max_failed_ratio={max_failed_ratio} allows {int(allowed)}. "
            "The report is in this task's XCom (return_value).",
            report,
        )
    return report


class SyncContactTagOperator(_SyncArguments, _ContactsOperator):
    """
    Make exactly the given contacts carry a tag: tag the missing ones, untag the others.

    Emails and external ids are resolved through search; the current members are read with a
    ``tag_id =`` search, page by page. Additions go in bulk (``POST /tags``); removals go one
    contact at a time (Intercom has no bulk untag for contacts), from a bounded, paced thread
    pool. The tag is created only when it is missing and there is something to add; a rerun, a
    refusal and a dry run write nothing at all.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param contact_ids: the contacts that must carry the tag, by Intercom id (templated).
    :param emails: the same, by email; an email may stand for a user and a lead (templated).
    :param external_ids: the same, by ``external_id`` (templated).
    :param max_removals: refuse a sync that removes the tag from more members than this.
    :param max_removal_ratio: refuse a sync that removes it from more than this share of members.
    :param allow_empty: allow an empty desired set (which removes the tag from everyone).
    :param batch_size: contacts per bulk tag call, 1 to 50.
    :param max_workers: untag calls in flight at once, 1 to 32.
    :param dry_run: compute and return the plan, but write nothing (templated).
    :param max_failed_ratio: the share of items that may end not found or failed before the task fails.
    :param max_items: refuse more desired items than this (default 10,000).
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra.
    """

    def __init__(self, *, batch_size: int = 50, max_workers: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_size = batch_size
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Make the tag's contacts exactly the given set and return the report (XCom).

        :param context: The task context.
        """
        dry_run, max_failed_ratio = self._validated_options()
        guard = self._guard(max_failed_ratio)
        batch_size = validate_batch_size(self.batch_size)
        max_workers = validate_workers(self.max_workers)
        inputs = self._id_inputs()
        check_max_items(
            len(dict.fromkeys(item for values in inputs.values() for item in values)),
            self.max_items,
            "contact_ids, emails and external_ids",
        )
        self._check_connection()

        targets, extra = self._resolve(inputs) if any(inputs.values()) else ({}, {})
        tag = self._existing_tag()
        current = self._current_members(tag)
        current_set = set(current)
        self._drop_unknown_ids(targets, inputs["contact_ids"], current_set, guard)
        desired = list(dict.fromkeys(cid for ids in targets.values() for cid in ids))
        desired_set = set(desired)
        to_add = [cid for cid in desired if cid not in current_set]
        to_remove = [cid for cid in current if cid not in desired_set]
        self.log.info(
            "Sync %r: %d desired, %d current: add %d, remove %d, unchanged %d",
            tag["name"],
            len(desired),
            len(current),
            len(to_add),
            len(to_remove),
            len(desired_set & current_set),
        )

        unresolved = sum(1 for ids in targets.values() if not ids)
        refusal = guard.refusal(len(targets), len(desired), unresolved, len(current), len(to_remove))
        added, removed = ItemReport(to_add), ItemReport(to_remove)
        if not dry_run and refusal is None:
            if to_add:
                tag_contacts(self.hook, self.log, tag["name"], to_add, batch_size, added)
                if tag["id"] is None:  # the first addition created it
                    tag = self.hook.find_tag_by_name(tag["name"]) or tag
            if to_remove:
                apply_each(
                    self.log,
                    to_remove,
                    lambda contact_id: self.hook.untag_contact(contact_id, tag["id"]),
                    removed,
                    "untagged",
                    "contacts",
                    max_workers,
                )
        report = self._report(tag, targets, current_set, added, removed, dry_run, extra)
        return _conclude(self, context, report, refusal, max_failed_ratio)

    def _drop_unknown_ids(
        self, targets: dict[str, list[str]], contact_ids: list[str], current: set[str], guard: _SyncGuard
    ) -> None:
        """
        Check that the given contact ids which carry no tag yet exist, when a guard's verdict hangs on it.

        Members and contacts found by search exist; a bare id may not. When even the worst case (none
        of them exists) leaves every guard satisfied, nothing is looked up: the bulk call reports the
        unknown ones. Otherwise one ``id IN`` search per 50 ids tells, and an unknown id then stands
        for no contact, as an unknown email does.
        """
        unverified = [cid for cid in contact_ids if cid not in current]
        if not unverified:
            return
        known = {cid for item, ids in targets.items() for cid in ids if item not in unverified}
        unresolved = sum(1 for ids in targets.values() if not ids) + len(unverified)
        if not guard.may_trip(len(targets), len(known), unresolved, len(current)):
            return
        unknown = self.hook.unknown_contact_ids(unverified)
        self.log.info(
            "Checked %d contact ids that do not carry the tag: %d unknown", len(unverified), len(unknown)
        )
        for contact_id in unknown:
            targets[contact_id] = []

    def _current_members(self, tag: dict[str, Any]) -> list[str]:
        if tag["id"] is None:
            return []
        query = {"field": "tag_id", "operator": "=", "value": tag["id"]}
        return list(
            dict.fromkeys(contact["id"] for contact in self.hook.search_contacts(query, per_page=150))
        )

    @staticmethod
    def _report(
        tag: dict[str, Any],
        targets: dict[str, list[str]],
        current: set[str],
        adds: ItemReport,
        removes: ItemReport,
        dry_run: bool,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        added, unchanged, not_found, failed = [], 0, [], []
        for item, contact_ids in targets.items():
            outcomes = [adds.outcome(cid) for cid in contact_ids if cid not in current]
            failure = next((outcome for outcome in outcomes if outcome and outcome[0] == "failed"), None)
            if not contact_ids or (outcomes and all(o and o[0] == "not_found" for o in outcomes)):
                not_found.append(item)
            elif failure:
                failed.append({"id": item, "error": failure[1]})
            elif not outcomes:
                unchanged += 1
            else:
                added.append(item)  # in a dry run: would be added
        removed = []
        for contact_id in removes.items:
            outcome = removes.outcome(contact_id)
            if outcome and outcome[0] == "failed":
                failed.append({"id": contact_id, "error": outcome[1]})
            else:
                removed.append(contact_id)  # untagged, already gone (404), or in a dry run: would be
        return {
            "tag": tag_summary(tag),
            "desired": len(targets),
            "current": len(current),
            "added": added,
            "removed": removed,
            "unchanged": unchanged,
            "not_found": not_found,
            "failed": failed,
            "dry_run": dry_run,
            "plan": {"add": len(adds.items), "remove": len(removes.items)},
            **extra,
        }


class SyncCompanyTagOperator(_SyncArguments, _CompaniesOperator):
    """
    Make exactly the given companies carry a tag: tag the missing ones, untag the others, in bulk.

    The current members are read with ``GET /companies?tag_id=``, page by page, and matched on both
    Intercom's id and your ``company_id``, so no company needs looking up. Additions and removals go
    as separate ``POST /tags`` calls, at most 50 companies each (never one mixed request: see
    :meth:`~airflow_provider_intercom.hooks.intercom.IntercomHook.apply_company_tag_plan`). The same
    guards as :class:`SyncContactTagOperator` refuse, before any write, a sync that removes too much.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param company_ids: the companies that must carry the tag, by Intercom id (templated).
    :param company_external_ids: the same, by your ``company_id`` (templated).
    :param max_removals: refuse a sync that removes the tag from more members than this.
    :param max_removal_ratio: refuse a sync that removes it from more than this share of members.
    :param allow_empty: allow an empty desired set (which removes the tag from every company).
    :param batch_size: companies per call, 1 to 50.
    :param dry_run: compute and return the plan, but write nothing (templated).
    :param max_failed_ratio: the share of items that may end not found or failed before the task fails.
    :param max_items: refuse more desired items than this (default 10,000).
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Make the tag's companies exactly the given set and return the report (XCom).

        :param context: The task context.
        """
        dry_run, max_failed_ratio = self._validated_options()
        guard = self._guard(max_failed_ratio)
        batch_size = validate_batch_size(self.batch_size)
        desired = self._keyed_companies()
        check_max_items(len(desired), self.max_items, "company_ids and company_external_ids")
        self._check_connection()

        tag = self._existing_tag()
        members = list(self.hook.list_companies(tag_id=tag["id"], per_page=50)) if tag["id"] else []
        member_keys = {str(m.get("id")) for m in members} | {
            str(m["company_id"]) for m in members if m.get("company_id")
        }
        wanted = set(desired)
        to_add = [(value, {key: value}) for value, key in desired.items() if value not in member_keys]
        # Members are known by both ids; 2.11's untag schema asks for both on every item.
        to_remove = [
            (
                str(m["id"]),
                {"id": str(m["id"]), "company_id": str(m["company_id"])}
                if m.get("company_id")
                else {"id": str(m["id"])},
            )
            for m in members
            if str(m.get("id")) not in wanted and str(m.get("company_id")) not in wanted
        ]
        checked = self._check_newcomers(desired, to_add, len(members), guard)
        unresolved = {value for value, _ in to_add if _unresolved(checked.outcome(value))}
        to_add = [(value, company) for value, company in to_add if value not in unresolved]
        resolved = len(desired) - len(unresolved)
        refusal = guard.refusal(len(desired), resolved, len(unresolved), len(members), len(to_remove))
        added = ItemReport([value for value, _ in to_add])
        removed = ItemReport([value for value, _ in to_remove])
        if not dry_run and refusal is None:
            if to_add:
                send_companies(self.hook, self.log, tag["name"], to_add, batch_size, added, untag=False)
            if to_remove:
                send_companies(self.hook, self.log, tag["name"], to_remove, batch_size, removed, untag=True)
            if tag["id"] is None and to_add:
                tag = self.hook.find_tag_by_name(tag["name"]) or tag
        report = self._report(tag, desired, checked, added, removed, dry_run, len(members))
        return _conclude(self, context, report, refusal, max_failed_ratio)

    def _check_newcomers(
        self,
        desired: dict[str, str],
        to_add: list[tuple[str, dict[str, str]]],
        current: int,
        guard: _SyncGuard,
    ) -> ItemReport:
        """
        Look up the desired companies that do not carry the tag, when a guard's verdict hangs on it.

        Members exist; a company to add may not. When even the worst case (none of them exists)
        leaves every guard satisfied, nothing is looked up and the bulk call reports the unknown
        ones. Otherwise each is fetched (paced, one call each): a company that is not found, or
        whose look-up failed, is not sent and counts as unresolved for the guards.

        :return: the look-ups' outcomes (empty when none was needed).
        """
        newcomers = [value for value, _ in to_add]
        checked = ItemReport(newcomers)
        if not newcomers or not guard.may_trip(
            len(desired), len(desired) - len(newcomers), len(newcomers), current
        ):
            return ItemReport([])
        apply_each(
            self.log,
            newcomers,
            lambda value: self._look_up(value, desired[value]),
            checked,
            "checked",
            "companies",
        )
        return checked

    @staticmethod
    def _report(
        tag: dict[str, Any],
        desired: dict[str, str],
        checked: ItemReport,
        adds: ItemReport,
        removes: ItemReport,
        dry_run: bool,
        current: int,
    ) -> dict[str, Any]:
        adding = set(adds.items)
        added, unchanged, not_found, failed = [], 0, [], []
        for value in desired:
            outcome: tuple[str, dict[str, Any] | None] | None
            if value in adding:
                outcome = adds.outcome(value) or ("succeeded", None)  # a dry run: would be added
            else:
                outcome = checked.outcome(value)  # None for a member: unchanged
            if outcome is None:
                unchanged += 1
            elif outcome[0] == "not_found":
                not_found.append(value)
            elif outcome[0] == "failed":
                failed.append({"id": value, "error": outcome[1]})
            else:
                added.append(value)
        removed = []
        for value in removes.items:
            outcome = removes.outcome(value)
            if outcome and outcome[0] == "failed":
                failed.append({"id": value, "error": outcome[1]})
            else:
                removed.append(value)
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
        }
