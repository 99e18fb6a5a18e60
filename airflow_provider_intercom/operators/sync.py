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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_intercom._validation import validate_batch_size, validate_flag, validate_workers
from airflow_provider_intercom.operators.apply_plan import ApplyTagPlanOperator
from airflow_provider_intercom.operators.base import _TagTaskOperator, documents_shared_parameters
from airflow_provider_intercom.operators.bulk import BulkWriter
from airflow_provider_intercom.operators.companies import (
    COMPANY_ID_FIELDS,
    COMPANY_RENDERERS,
    COMPANY_SQL_COLUMNS,
    COMPANY_TEMPLATE_FIELDS,
    keyed_companies,
    look_up_company,
)
from airflow_provider_intercom.operators.contacts import (
    CONTACT_ID_FIELDS,
    CONTACT_RENDERERS,
    CONTACT_SQL_COLUMNS,
    CONTACT_TEMPLATE_FIELDS,
    resolve_contacts,
)
from airflow_provider_intercom.operators.finish import finish_task
from airflow_provider_intercom.operators.membership import (
    company_members,
    company_payload,
    contact_members,
    member_keys,
    write_company_changes,
    write_contact_changes,
)
from airflow_provider_intercom.operators.report import ItemReport, Outcome, combine
from airflow_provider_intercom.operators.report_store import publish
from airflow_provider_intercom.operators.sync_plan import (
    ItemOutcome,
    SyncGuard,
    plan,
    sync_report,
    sync_summary,
    unresolved,
)
from airflow_provider_intercom.operators.tag_plan import build_plan, publish_plan
from airflow_provider_intercom.operators.tagging import existing_tag, record_tag_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = ["ApplyTagPlanOperator", "SyncCompanyTagOperator", "SyncContactTagOperator"]
PLAN_TEMPLATE_FIELDS = ("plan_only", "plan_path")


def _contact_outcome(contact_ids: list[str], members: set[str], adds: ItemReport) -> ItemOutcome | None:
    """Return an item's outcome: not found without contacts, None (unchanged) when all are members."""
    if not contact_ids:
        return Outcome.NOT_FOUND, None
    if members.issuperset(contact_ids):
        return None
    return combine(adds.outcome(contact_id) for contact_id in contact_ids if contact_id not in members)


def _finish_sync(
    operator: _TagTaskOperator,
    context: Context,
    report: dict[str, Any],
    max_failed_ratio: float,
    refusal: str | None,
) -> dict[str, Any]:
    """Finish a sync through the operator's one finish step; the ratio counts desired items and removals."""
    out_of = report["desired"] + report["plan"]["remove"]
    summary = sync_summary(report)  # from the whole report, before a large one leaves its lists out
    published = publish(
        report, path=operator.report_path, conn_id=operator.report_conn_id, max_items=operator.max_xcom_items
    )
    return finish_task(
        operator,
        context,
        published,
        lambda: None if refusal else operator.tag_lineage(published),  # a refused sync changed nothing
        max_failed_ratio,
        f"the sync's {out_of} items",
        summary,
        out_of=out_of,
        refusal=refusal,
    )


def _finish_plan(
    operator: SyncContactTagOperator | SyncCompanyTagOperator,
    context: Context,
    tag: dict[str, Any],
    objects: str,
    add: list[Any],
    remove: list[Any],
    **fields: Any,
) -> dict[str, Any]:
    """Freeze a plan-only sync's plan, log its summary and return what goes to XCom; nothing is written."""
    settings = operator.hook.settings
    frozen = build_plan(
        objects=objects,
        tag=tag,
        api_version=settings.api_version,
        region=settings.region,
        add=add,
        remove=remove,
        **fields,
    )
    url = record_tag_link(operator.hook, operator.log, context, tag)
    published = publish_plan(
        frozen,
        path=operator.plan_path,
        conn_id=operator.plan_conn_id,
        max_items=operator.max_xcom_items,
        tag_url=url,
    )
    operator.log.info("Plan only: nothing was written.\n%s", published["summary"])
    return published


@documents_shared_parameters
class SyncContactTagOperator(_TagTaskOperator):
    """
    Make exactly the given contacts carry a tag: tag the missing ones, untag the others.

    Emails and external ids are resolved through search; the current members are read with a
    ``tag_id =`` search, page by page. Additions go in bulk (``POST /tags``); removals go one
    contact at a time (Intercom has no bulk untag for contacts), from a bounded, paced thread
    pool. The tag is created only when it is missing and there is something to add; a rerun, a
    refusal and a dry run write nothing at all.

    :param contact_ids: the contacts that must carry the tag, by Intercom id (templated).
    :param emails: the same, by email; an email may stand for a user and a lead (templated).
    :param external_ids: the same, by ``external_id`` (templated).
    :param max_removals: refuse a sync that removes the tag from more members than this.
    :param max_removal_ratio: refuse a sync that removes it from more than this share of members.
    :param allow_empty: allow an empty desired set (which removes the tag from everyone).
    :param batch_size: contacts per bulk tag call, 1 to 50.
    :param max_workers: untag calls in flight at once, 1 to 32.
    :param plan_only: stop after planning and return the plan, for :class:`ApplyTagPlanOperator`
        to apply later; a guard that trips is named in the plan's ``guard`` instead of failing (templated).
    :param plan_path: where a plan too large for XCom goes: a path or an object-storage URL (templated).
    :param plan_conn_id: the object store's connection, for a ``plan_path`` URL.
    """

    template_fields: Sequence[str] = (*CONTACT_TEMPLATE_FIELDS, *PLAN_TEMPLATE_FIELDS)
    template_fields_renderers = CONTACT_RENDERERS
    id_fields = CONTACT_ID_FIELDS
    sql_columns = CONTACT_SQL_COLUMNS
    lineage_objects = "contacts"

    def __init__(
        self,
        *,
        contact_ids: Any = None,
        emails: Any = None,
        external_ids: Any = None,
        max_removals: int = 100,
        max_removal_ratio: float = 0.2,
        allow_empty: bool = False,
        batch_size: int = 50,
        max_workers: int = 4,
        plan_only: bool | str = False,
        plan_path: str | None = None,
        plan_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan_only, self.plan_path, self.plan_conn_id = plan_only, plan_path, plan_conn_id
        self.contact_ids, self.emails, self.external_ids = contact_ids, emails, external_ids
        self.max_removals, self.max_removal_ratio, self.allow_empty = (
            max_removals,
            max_removal_ratio,
            allow_empty,
        )
        self.batch_size, self.max_workers = batch_size, max_workers

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Make the tag's contacts exactly the given set and return the report (XCom).

        :param context: The task context.
        """
        dry_run, max_failed_ratio = self._validated_options()
        plan_only = validate_flag(self.plan_only, "plan_only")
        guard = SyncGuard(self.max_removals, self.max_removal_ratio, self.allow_empty, max_failed_ratio)
        batch_size, max_workers = validate_batch_size(self.batch_size), validate_workers(self.max_workers)
        inputs, source = self._read_inputs()
        self._check_inputs(inputs, allow_empty=True)
        _ = self.hook.settings  # a bad connection fails before any request

        targets, extra = resolve_contacts(self.hook, self.log, inputs) if any(inputs.values()) else ({}, {})
        tag = existing_tag(self.hook, self.tag_name, self.tag_id)
        current = contact_members(self.hook, tag)
        members = set(current)
        self._drop_unknown_ids(targets, inputs["contact_ids"], members, guard)
        desired = list(dict.fromkeys(cid for ids in targets.values() for cid in ids))
        the_plan = plan(desired, {cid: (cid,) for cid in current})
        self.log.info(
            "Sync %r: %d desired, %d current: add %d, remove %d, unchanged %d",
            tag["name"],
            len(desired),
            len(current),
            len(the_plan.add),
            len(the_plan.remove),
            len(desired) - len(the_plan.add),
        )
        unresolved_items = sum(1 for ids in targets.values() if not ids)
        refusal = guard.refusal(
            len(targets), len(desired), unresolved_items, len(current), len(the_plan.remove)
        )
        if plan_only:
            fields = {"desired": len(desired), "members": current, "guard": refusal}
            return _finish_plan(self, context, tag, "contacts", the_plan.add, the_plan.remove, **fields)
        adds, removes = ItemReport(the_plan.add), ItemReport(the_plan.remove)
        if dry_run or refusal:
            adds.succeed_all()  # what the report lists: would be added, would be removed
            removes.succeed_all()
        else:
            tag = write_contact_changes(
                self.hook, self.log, tag, adds, removes, batch_size=batch_size, max_workers=max_workers
            )
        outcomes = {item: _contact_outcome(ids, members, adds) for item, ids in targets.items()}
        report = sync_report(
            tag, outcomes, adds, removes, current=len(current), dry_run=dry_run, **extra, **source
        )
        return _finish_sync(self, context, report, max_failed_ratio, refusal)

    def _drop_unknown_ids(
        self, targets: dict[str, list[str]], contact_ids: list[str], current: set[str], guard: SyncGuard
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
        worst_case = sum(1 for ids in targets.values() if not ids) + len(unverified)
        if not guard.may_trip(len(targets), len(known), worst_case, len(current)):
            return
        unknown = self.hook.unknown_contact_ids(unverified)
        self.log.info(
            "Checked %d contact ids that do not carry the tag: %d unknown", len(unverified), len(unknown)
        )
        for contact_id in unknown:
            targets[contact_id] = []


@documents_shared_parameters
class SyncCompanyTagOperator(_TagTaskOperator):
    """
    Make exactly the given companies carry a tag: tag the missing ones, untag the others, in bulk.

    The current members are read with ``GET /companies?tag_id=``, page by page, and matched on both
    Intercom's id and your ``company_id``, so no company needs looking up. Additions and removals go
    as separate ``POST /tags`` calls, at most 50 companies each (never one mixed request: see
    :meth:`~airflow_provider_intercom.hooks.intercom.IntercomHook.apply_company_tag_plan`). The same
    guards as :class:`SyncContactTagOperator` refuse, before any write, a sync that removes too much.

    :param company_ids: the companies that must carry the tag, by Intercom id (templated).
    :param company_external_ids: the same, by your ``company_id`` (templated).
    :param max_removals: refuse a sync that removes the tag from more members than this.
    :param max_removal_ratio: refuse a sync that removes it from more than this share of members.
    :param allow_empty: allow an empty desired set (which removes the tag from every company).
    :param batch_size: companies per call, 1 to 50.
    :param plan_only: stop after planning and return the plan (see :class:`SyncContactTagOperator`).
    :param plan_path: where a plan too large for XCom goes: a path or an object-storage URL (templated).
    :param plan_conn_id: the object store's connection, for a ``plan_path`` URL.
    """

    template_fields: Sequence[str] = (*COMPANY_TEMPLATE_FIELDS, *PLAN_TEMPLATE_FIELDS)
    template_fields_renderers = COMPANY_RENDERERS
    id_fields = COMPANY_ID_FIELDS
    sql_columns = COMPANY_SQL_COLUMNS
    lineage_objects = "companies"

    def __init__(
        self,
        *,
        company_ids: Any = None,
        company_external_ids: Any = None,
        max_removals: int = 100,
        max_removal_ratio: float = 0.2,
        allow_empty: bool = False,
        batch_size: int = 50,
        plan_only: bool | str = False,
        plan_path: str | None = None,
        plan_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan_only, self.plan_path, self.plan_conn_id = plan_only, plan_path, plan_conn_id
        self.company_ids, self.company_external_ids = company_ids, company_external_ids
        self.max_removals, self.max_removal_ratio, self.allow_empty = (
            max_removals,
            max_removal_ratio,
            allow_empty,
        )
        self.batch_size = batch_size

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Make the tag's companies exactly the given set and return the report (XCom).

        :param context: The task context.
        """
        dry_run, max_failed_ratio = self._validated_options()
        plan_only = validate_flag(self.plan_only, "plan_only")
        guard = SyncGuard(self.max_removals, self.max_removal_ratio, self.allow_empty, max_failed_ratio)
        batch_size = validate_batch_size(self.batch_size)
        inputs, source = self._read_inputs()
        self._check_inputs(inputs, allow_empty=True)
        desired = keyed_companies(inputs)
        _ = self.hook.settings  # a bad connection fails before any request

        tag = existing_tag(self.hook, self.tag_name, self.tag_id)
        members = company_members(self.hook, tag)
        the_plan = plan(list(desired), member_keys(members))
        checked = self._check_newcomers(desired, the_plan.add, len(members), guard)
        missing = {value for value in the_plan.add if unresolved(checked.outcome(value))}
        adds = ItemReport([value for value in the_plan.add if value not in missing])
        removes = ItemReport(the_plan.remove)
        refusal = guard.refusal(
            len(desired), len(desired) - len(missing), len(missing), len(members), len(removes.items)
        )
        payloads = {value: {desired[value]: value} for value in adds.items}
        payloads.update({mid: company_payload(members[mid]) for mid in removes.items})
        if plan_only:
            add, remove = [payloads[value] for value in adds.items], [payloads[m] for m in removes.items]
            fields = {"desired": len(desired) - len(missing), "members": list(members), "guard": refusal}
            return _finish_plan(self, context, tag, "companies", add, remove, **fields)
        if dry_run or refusal:
            adds.succeed_all()
            removes.succeed_all()
        else:
            tag = write_company_changes(
                self.hook, self.log, tag, adds, removes, payloads, batch_size=batch_size
            )
        outcomes = {value: adds.outcome(value) or checked.outcome(value) for value in desired}
        report = sync_report(tag, outcomes, adds, removes, current=len(members), dry_run=dry_run, **source)
        return _finish_sync(self, context, report, max_failed_ratio, refusal)

    def _check_newcomers(
        self,
        desired: dict[str, str],
        newcomers: list[str],
        current: int,
        guard: SyncGuard,
    ) -> ItemReport:
        """
        Look up the desired companies that do not carry the tag, when a guard's verdict hangs on it.

        Members exist; a company to add may not. When even the worst case (none of them exists)
        leaves every guard satisfied, nothing is looked up and the bulk call reports the unknown
        ones. Otherwise each is fetched (paced, one call each): a company that is not found, or
        whose look-up failed, is not sent and counts as unresolved for the guards.

        :return: the look-ups' outcomes (empty when none was needed).
        """
        checked = ItemReport(newcomers)
        if not newcomers or not guard.may_trip(
            len(desired), len(desired) - len(newcomers), len(newcomers), current
        ):
            return ItemReport([])
        BulkWriter(self.hook, self.log, checked).each(
            lambda value: look_up_company(self.hook, value, desired[value]), "checked", "companies"
        )
        return checked
