"""
Tag and untag contacts in bulk, by Intercom id, email or external id.

Every operator here returns the per-item report (see :mod:`~airflow_provider_intercom.operators.tags`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_intercom._validation import validate_batch_size, validate_workers
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.base import (
    _TagTaskOperator,
    documents_shared_parameters,
    tag_task_fields,
)
from airflow_provider_intercom.operators.bulk import BulkWriter
from airflow_provider_intercom.operators.report import ItemReport

CONTACT_ID_FIELDS = ("contact_ids", "emails", "external_ids")
CONTACT_TEMPLATE_FIELDS = tag_task_fields(*CONTACT_ID_FIELDS)
CONTACT_RENDERERS = {**{field: "json" for field in CONTACT_ID_FIELDS}, "sql": "sql"}
# A query's column name decides the list its values fill (sql_id_field overrides it).
CONTACT_SQL_COLUMNS = {
    "id": "contact_ids",
    "contact_id": "contact_ids",
    "email": "emails",
    "external_id": "external_ids",
}


def resolve_contacts(
    hook: IntercomHook, log: Any, inputs: dict[str, list[str]]
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """
    Map every requested item to the contact ids it stands for (none when unresolved).

    Contact ids stand for themselves; emails and external ids are looked up with ``IN`` searches.

    :param hook: the task's hook.
    :param log: the task's log.
    :param inputs: the ids by argument: ``contact_ids``, ``emails``, ``external_ids``.
    :return: the targets, and ``{"resolved": ...}`` for the report when anything was searched.
    """
    targets: dict[str, list[str]] = {contact_id: [contact_id] for contact_id in inputs["contact_ids"]}
    if not (inputs["emails"] or inputs["external_ids"]):
        return targets, {}
    resolved = hook.resolve_contacts(emails=inputs["emails"], external_ids=inputs["external_ids"])
    for kind in ("emails", "external_ids"):
        for value in inputs[kind]:
            targets.setdefault(value, resolved[kind].get(value, []))
    log.info(
        "Resolved %d emails and %d external ids; unresolved: %s; matching several contacts: %s",
        len(resolved["emails"]),
        len(resolved["external_ids"]),
        resolved["unresolved"],
        resolved["ambiguous"],
    )
    return targets, {"resolved": resolved}


@documents_shared_parameters
class TagContactsOperator(_TagTaskOperator):
    """
    Tag contacts in bulk, by Intercom id, email or external id.

    Emails and external ids are resolved through search first. Contacts are tagged through
    ``POST /tags`` in batches of ``batch_size``. Up to API 2.15 one unknown id fails a whole batch
    with 404: the operator then finds the unknown ids and still tags every known contact. From
    2.16 it reads Intercom's per-id results. Returns the per-item report (see the module docs).

    :param contact_ids: Intercom contact ids (templated: a list, an XComArg, a JSON list or a
        comma-separated string; one-column rows and, with ``id_key``, dict rows are read too;
        duplicates are dropped).
    :param emails: contact emails, resolved through search; one email may match several contacts
        (a user and a lead), and then all of them are changed (templated).
    :param external_ids: your ``external_id`` values, resolved through search (templated).
    :param create_tag_if_missing: create the tag when no tag has ``tag_name`` (never in a dry run,
        nor when no contact resolved).
    :param batch_size: contacts per bulk call, 1 to 50.
    """

    template_fields: Sequence[str] = CONTACT_TEMPLATE_FIELDS
    template_fields_renderers = CONTACT_RENDERERS
    id_fields = CONTACT_ID_FIELDS
    sql_columns = CONTACT_SQL_COLUMNS
    noun = "contacts"
    lineage_objects = "contacts"

    def __init__(
        self,
        *,
        contact_ids: Any = None,
        emails: Any = None,
        external_ids: Any = None,
        create_tag_if_missing: bool = True,
        batch_size: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids, self.emails, self.external_ids = contact_ids, emails, external_ids
        self.create_tag_if_missing = create_tag_if_missing
        self.batch_size = batch_size

    def _check_arguments(self) -> None:
        validate_batch_size(self.batch_size)

    def _targets(self, inputs: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, Any]]:
        return resolve_contacts(self.hook, self.log, inputs)

    def _may_create_tag(self) -> bool:
        return bool(self.create_tag_if_missing)

    def _write(self, tag: dict[str, Any], writes: ItemReport, inputs: dict[str, list[str]]) -> None:
        # Once a window met stale ids (2.15 and earlier), the next ones check their ids before sending.
        seen = getattr(self, "_stale_ids_seen", False)
        writer = BulkWriter(self.hook, self.log, writes)
        self._stale_ids_seen = writer.tag_contacts(tag["name"], self.batch_size, precheck=seen)


@documents_shared_parameters
class UntagContactsOperator(_TagTaskOperator):
    """
    Remove a tag from contacts, one call per contact (Intercom has no bulk untag for contacts).

    The tag must exist; it is never created. Calls go out from a bounded thread pool; the hook's
    pacer keeps them within Intercom's rate limit. Returns the per-item report (see the module docs).

    :param contact_ids: Intercom contact ids (templated; read as for :class:`TagContactsOperator`).
    :param emails: contact emails, resolved through search; one email may match several contacts
        (a user and a lead), and then all of them are changed (templated).
    :param external_ids: your ``external_id`` values, resolved through search (templated).
    :param max_workers: calls in flight at once, 1 to 32.
    """

    template_fields: Sequence[str] = CONTACT_TEMPLATE_FIELDS
    template_fields_renderers = CONTACT_RENDERERS
    id_fields = CONTACT_ID_FIELDS
    sql_columns = CONTACT_SQL_COLUMNS
    noun = "contacts"
    lineage_objects = "contacts"
    lineage_removes = True

    def __init__(
        self,
        *,
        contact_ids: Any = None,
        emails: Any = None,
        external_ids: Any = None,
        max_workers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids, self.emails, self.external_ids = contact_ids, emails, external_ids
        self.max_workers = max_workers

    def _check_arguments(self) -> None:
        validate_workers(self.max_workers)

    def _targets(self, inputs: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, Any]]:
        return resolve_contacts(self.hook, self.log, inputs)

    def _write(self, tag: dict[str, Any], writes: ItemReport, inputs: dict[str, list[str]]) -> None:
        BulkWriter(self.hook, self.log, writes).each(
            lambda contact_id: self.hook.untag_contact(contact_id, tag["id"]),
            "untagged",
            "contacts",
            self.max_workers,
        )
