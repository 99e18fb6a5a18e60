"""
Apply a reviewed sync plan exactly as planned, or refuse it as stale, as ``terraform apply PLANFILE`` does.

The plan comes from a sync run with ``plan_only=True`` (its shape: ``operators/tag_plan.py``).
Before any write the tag's members are read again and compared with the members the plan saw: a
member that appeared, or vanished, other than by the plan's own additions and removals, is drift. More
drift than ``max_drift`` refuses the plan and writes nothing. Otherwise the planned additions and
removals are written, never a recomputed difference, through the syncs' own machinery. What a crashed
apply already did counts as done, so a rerun finishes the plan and a second apply writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_intercom._validation import (
    validate_batch_size,
    validate_int_range,
    validate_ratio,
    validate_workers,
)
from airflow_provider_intercom.exceptions import (
    IntercomConfigurationError,
    IntercomNotFoundError,
    IntercomStalePlanError,
    IntercomTagNotFoundError,
)
from airflow_provider_intercom.hooks.intercom import tag_summary
from airflow_provider_intercom.links.tags import IntercomTagLink
from airflow_provider_intercom.operators.base import CONNECTION_FIELDS, _IntercomOperator
from airflow_provider_intercom.operators.finish import finish_task
from airflow_provider_intercom.operators.lineage import tag_lineage
from airflow_provider_intercom.operators.membership import (
    company_members,
    contact_members,
    member_keys,
    write_company_changes,
    write_contact_changes,
)
from airflow_provider_intercom.operators.report import ItemReport, Outcome
from airflow_provider_intercom.operators.report_store import DEFAULT_MAX_XCOM_ITEMS, publish
from airflow_provider_intercom.operators.sync_plan import sync_report
from airflow_provider_intercom.operators.tag_plan import OBJECTS, PlanSource, describe_item, fingerprint

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

MAX_DRIFT_LIMIT = 10**9


def _removed_id(item: Any) -> str:
    """Return the Intercom id of a planned removal: a contact id, or a company's ``id``."""
    return str(item["id"]) if isinstance(item, Mapping) else str(item)


@dataclass(frozen=True)
class Drift:
    """
    How the tag's members moved since planning, the plan's own writes left out.

    :param appeared: members now that were not then and are no planned addition.
    :param vanished: members then that are gone now and are no planned removal.
    """

    appeared: list[str]
    vanished: list[str]

    @property
    def items(self) -> int:
        """How many members moved."""
        return len(self.appeared) + len(self.vanished)


def measure_drift(plan: Mapping[str, Any], current: Mapping[str, set[str]]) -> Drift:
    """
    Compare the members now with the members the plan saw, forgiving what the plan itself changes.

    :param plan: the whole plan.
    :param current: each member now, by Intercom id, with every key it is known by.
    """
    then = set(plan["members"])
    added = {describe_item(item) for item in plan["add"]}
    removed = {_removed_id(item) for item in plan["remove"]}
    return Drift(
        appeared=[
            member for member, keys in current.items() if member not in then and keys.isdisjoint(added)
        ],
        vanished=[member for member in plan["members"] if member not in current and member not in removed],
    )


class ApplyTagPlanOperator(_IntercomOperator):
    """
    Apply a sync plan made with ``plan_only=True``: exactly its additions and removals, once.

    The tag's members are read again first. If they moved since planning by more than ``max_drift``
    members (someone tagged or untagged meanwhile), the plan is refused as stale
    (:class:`~airflow_provider_intercom.exceptions.IntercomStalePlanError`) and nothing is written.
    The guards are not judged again: approving the plan was that decision. Planned items already in
    their planned state (a rerun after a crash) are counted as done and not sent again. Returns a
    report in the sync's shape, with ``applied`` (the plan's checksum, what was already done, the drift,
    and the members' fingerprint then and now).

    :param plan: the plan task's XCom (``plan_task.output``): the plan, or its summary naming the file
        (templated).
    :param plan_path: the plan file (a path or an object-storage URL), when ``plan`` is not given (templated).
    :param plan_conn_id: the object store's connection, for a ``plan_path`` URL.
    :param max_drift: how many members may have moved since planning, 0 or more.
    :param tag_name: when given, the plan must be for the tag of this name.
    :param tag_id: when given, the plan must be for the tag of this id.
    :param objects: when given, ``contacts`` or ``companies``: the plan must be for those.
    :param batch_size: items per bulk call, 1 to 50.
    :param max_workers: contact untag calls in flight at once, 1 to 32.
    :param max_failed_ratio: the share of planned items that may fail or be missing before the task fails.
    :param report_path: where the whole per-item report goes as JSON lines (templated).
    :param report_conn_id: the object store's connection, for a ``report_path`` URL.
    :param max_xcom_items: above this many items, XCom holds counts and misses only.
    """

    # "plan" is a template field so that an XComArg (plan_task.output) is resolved at run time.
    template_fields: Sequence[str] = ("plan", "plan_path", "report_path", "max_drift", *CONNECTION_FIELDS)
    operator_extra_links = (IntercomTagLink(),)

    def __init__(
        self,
        *,
        plan: Any = None,
        plan_path: str | None = None,
        plan_conn_id: str | None = None,
        max_drift: int = 0,
        tag_name: str | None = None,
        tag_id: str | None = None,
        objects: str | None = None,
        batch_size: int = 50,
        max_workers: int = 4,
        max_failed_ratio: float = 0.0,
        report_path: str | None = None,
        report_conn_id: str | None = None,
        max_xcom_items: int = DEFAULT_MAX_XCOM_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan, self.plan_path, self.plan_conn_id = plan, plan_path, plan_conn_id
        self.max_drift = max_drift
        self.tag_name, self.tag_id, self.objects = tag_name, tag_id, objects
        self.batch_size, self.max_workers, self.max_failed_ratio = batch_size, max_workers, max_failed_ratio
        self.report_path, self.report_conn_id, self.max_xcom_items = (
            report_path,
            report_conn_id,
            max_xcom_items,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Check the plan, refuse it if stale, write what is left of it, and return the report (XCom).

        :param context: The task context.
        """
        max_drift = validate_int_range(self.max_drift, "max_drift", 0, MAX_DRIFT_LIMIT)
        batch_size, max_workers = validate_batch_size(self.batch_size), validate_workers(self.max_workers)
        max_failed_ratio = validate_ratio(self.max_failed_ratio, "max_failed_ratio")
        plan = PlanSource(self.plan, self.plan_path, self.plan_conn_id).load()
        self._check_plan_fits(plan)
        tag = self._tag_now(plan["tag"])
        current = self._members_now(plan["objects"], tag)
        drift = measure_drift(plan, current)
        self._refuse_stale(plan, drift, max_drift)
        known = {key for keys in current.values() for key in keys}
        adds = ItemReport([describe_item(item) for item in plan["add"]])
        removes = ItemReport([_removed_id(item) for item in plan["remove"]])
        todo_adds = ItemReport([item for item in adds.items if item not in known])
        todo_removes = ItemReport([item for item in removes.items if item in current])
        self.log.info(
            "Applying the plan of %s for the tag %r: add %d (%d already done), remove %d (%d already done); "
            "%d members moved since planning (max_drift=%d)",
            plan["created_at"],
            plan["tag"]["name"],
            len(adds.items),
            len(adds.items) - len(todo_adds.items),
            len(removes.items),
            len(removes.items) - len(todo_removes.items),
            drift.items,
            max_drift,
        )
        tag = self._write(plan, tag, todo_adds, todo_removes, batch_size, max_workers)
        for whole, todo in ((adds, todo_adds), (removes, todo_removes)):
            for item in whole.items:
                whole.record(item, *(todo.outcome(item) or (Outcome.SUCCEEDED, None)))
        fingerprint_now = fingerprint(current)
        return self._finish_apply(
            context,
            plan,
            tag,
            adds,
            removes,
            todo_adds,
            todo_removes,
            drift,
            fingerprint_now,
            max_failed_ratio,
        )

    def _check_plan_fits(self, plan: Mapping[str, Any]) -> None:
        """Refuse, before any request, a plan for other objects, another tag, version or region."""
        if self.objects is not None and self.objects not in OBJECTS:
            raise IntercomConfigurationError(f"objects={self.objects!r} must be one of: {', '.join(OBJECTS)}")
        planned = plan["tag"]
        expected = {"objects": (self.objects, plan["objects"]), "tag_name": (self.tag_name, planned["name"])}
        expected["tag_id"] = (self.tag_id, planned["id"])
        for field, (wanted, found) in expected.items():
            if wanted is not None and str(wanted) != str(found):
                raise IntercomConfigurationError(
                    f"{field}={wanted!r}, but the plan is for {field}={found!r}; nothing was written"
                )
        settings = self.hook.settings
        for field, ours in (("api_version", settings.api_version), ("region", settings.region)):
            if plan.get(field) != ours:
                raise IntercomConfigurationError(
                    f"the plan was made with {field}={plan.get(field)!r}, but this task's connection "
                    f"{self.intercom_conn_id!r} uses {field}={ours!r}: apply it where it was planned, or "
                    "plan again; nothing was written"
                )

    def _tag_now(self, planned: Mapping[str, Any]) -> dict[str, Any]:
        """Return the plan's tag as it is now; refuse it if it was deleted or renamed since planning."""
        if planned["id"] is None:  # it did not exist when planned: the first addition creates it
            found = self.hook.find_tag_by_name(planned["name"])
            return found or {"type": "tag", "id": None, "name": planned["name"]}
        try:
            tag = self.hook.find_tag(str(planned["id"]))
        except IntercomNotFoundError:
            raise IntercomTagNotFoundError(
                f"The plan's tag {planned['name']!r} (id {planned['id']}) no longer exists; nothing was "
                "written: plan again"
            ) from None
        if tag["name"] != planned["name"]:
            raise IntercomStalePlanError(
                f"The plan's tag (id {planned['id']}) was renamed from {planned['name']!r} to "
                f"{tag['name']!r} since planning; nothing was written: plan again",
                {"appeared": 0, "vanished": 0},
            )
        return tag

    def _members_now(self, objects: str, tag: Mapping[str, Any]) -> dict[str, set[str]]:
        """Each member now, by Intercom id, with every key it is known by (companies: both ids)."""
        if objects == "contacts":
            return {contact_id: {contact_id} for contact_id in contact_members(self.hook, tag)}
        return member_keys(company_members(self.hook, tag))

    def _refuse_stale(self, plan: Mapping[str, Any], drift: Drift, max_drift: int) -> None:
        if drift.items <= max_drift:
            return
        raise IntercomStalePlanError(
            f"Refusing the plan of {plan['created_at']} for the tag {plan['tag']['name']!r} as stale: "
            f"since planning {len(drift.appeared)} {plan['objects']} gained the tag and "
            f"{len(drift.vanished)} lost it outside the plan ({drift.items} moved, max_drift={max_drift} "
            f"allows {max_drift}). Nothing was written: plan again, or raise max_drift if that is meant",
            {"appeared": len(drift.appeared), "vanished": len(drift.vanished), "max_drift": max_drift},
        )

    def _write(
        self,
        plan: Mapping[str, Any],
        tag: dict[str, Any],
        adds: ItemReport,
        removes: ItemReport,
        batch_size: int,
        max_workers: int,
    ) -> dict[str, Any]:
        if plan["objects"] == "contacts":
            return write_contact_changes(
                self.hook, self.log, tag, adds, removes, batch_size=batch_size, max_workers=max_workers
            )
        payloads = {describe_item(item): dict(item) for item in plan["add"]}
        payloads.update({_removed_id(item): dict(item) for item in plan["remove"]})
        return write_company_changes(self.hook, self.log, tag, adds, removes, payloads, batch_size=batch_size)

    def _finish_apply(
        self,
        context: Context,
        plan: Mapping[str, Any],
        tag: dict[str, Any],
        adds: ItemReport,
        removes: ItemReport,
        todo_adds: ItemReport,
        todo_removes: ItemReport,
        drift: Drift,
        fingerprint_now: dict[str, Any],
        max_failed_ratio: float,
    ) -> dict[str, Any]:
        applied = {
            "checksum": plan["checksum"],
            "created_at": plan["created_at"],
            "already_done": {
                "add": len(adds.items) - len(todo_adds.items),
                "remove": len(removes.items) - len(todo_removes.items),
            },
            "drift": {"appeared": len(drift.appeared), "vanished": len(drift.vanished)},
            "fingerprint_then": plan["fingerprint"],
            "fingerprint_now": fingerprint_now,
        }
        outcomes = {item: adds.outcome(item) for item in adds.items}
        report = sync_report(tag, outcomes, adds, removes, current=len(plan["members"]), dry_run=False)
        report.update(
            desired=plan["desired"],
            unchanged=plan["counts"]["unchanged"],
            tag=tag_summary(tag),
            applied=applied,
        )
        out_of = len(adds.items) + len(removes.items)
        summary = (
            "Applied the plan for %r: added %d, removed %d, not found %d, failed %d",
            tag["name"],
            len(report["added"]),
            len(report["removed"]),
            len(report["not_found"]),
            len(report["failed"]),
        )
        published = publish(
            report, path=self.report_path, conn_id=self.report_conn_id, max_items=self.max_xcom_items
        )
        return finish_task(
            self,
            context,
            published,
            lambda: tag_lineage(self.hook, published, plan["objects"]),
            max_failed_ratio,
            f"the plan's {out_of} items",
            summary,
            out_of=out_of,
        )
