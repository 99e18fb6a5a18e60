"""
Tag and untag companies in bulk through ``POST /tags``, by Intercom id or by your ``company_id``.

Every operator here returns the per-item report (see :mod:`~airflow_provider_intercom.operators.tags`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_intercom._validation import validate_batch_size
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.base import (
    _TagTaskOperator,
    documents_shared_parameters,
    tag_task_fields,
)
from airflow_provider_intercom.operators.bulk import BulkWriter
from airflow_provider_intercom.operators.report import ItemReport

COMPANY_ID_FIELDS = ("company_ids", "company_external_ids")
COMPANY_TEMPLATE_FIELDS = tag_task_fields(*COMPANY_ID_FIELDS)
COMPANY_RENDERERS = {**{field: "json" for field in COMPANY_ID_FIELDS}, "sql": "sql"}
COMPANY_SQL_COLUMNS = {"id": "company_ids", "company_id": "company_external_ids"}


def keyed_companies(inputs: dict[str, list[str]]) -> dict[str, str]:
    """
    Map each input company, in order, to its key: ``id`` (Intercom's) or ``company_id`` (yours).

    :param inputs: the ids by argument: ``company_ids``, ``company_external_ids``.
    """
    keyed: dict[str, str] = {}
    for key, field in (("id", "company_ids"), ("company_id", "company_external_ids")):
        for item in inputs[field]:
            keyed.setdefault(item, key)
    return keyed


def look_up_company(hook: IntercomHook, item: str, key: str) -> dict[str, Any]:
    """
    Fetch one company by the key it was given by.

    :param hook: the task's hook.
    :param item: the company's id.
    :param key: ``id`` (Intercom's) or ``company_id`` (yours).
    :raises IntercomNotFoundError: when no company has it.
    """
    return hook.get_company(item) if key == "id" else hook.find_company(item)


@documents_shared_parameters
class TagCompaniesOperator(_TagTaskOperator):
    """
    Tag companies in bulk through ``POST /tags``, by Intercom id or by your ``company_id``.

    The tag is created if missing. Up to API 2.15 one unknown company fails a batch with 404, so
    the batch is split until the unknown ones are found; from 2.16 Intercom's per-company results
    are read. A dry run looks every company up and writes nothing. Returns the per-item report.

    :param company_ids: Intercom company ids (templated).
    :param company_external_ids: your ``company_id`` values (templated).
    :param batch_size: companies per bulk call, 1 to 50.
    """

    template_fields: Sequence[str] = COMPANY_TEMPLATE_FIELDS
    template_fields_renderers = COMPANY_RENDERERS
    id_fields = COMPANY_ID_FIELDS
    sql_columns = COMPANY_SQL_COLUMNS
    noun = "companies"
    lineage_objects = "companies"
    untag = False

    def __init__(
        self,
        *,
        company_ids: Any = None,
        company_external_ids: Any = None,
        batch_size: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.company_ids, self.company_external_ids = company_ids, company_external_ids
        self.batch_size = batch_size

    def _check_arguments(self) -> None:
        validate_batch_size(self.batch_size)

    def _may_create_tag(self) -> bool:
        return not self.untag

    def _dry_run(self, writes: ItemReport, inputs: dict[str, list[str]]) -> None:
        """Look every company up: a dry run tells which exist, and writes nothing."""
        keyed = keyed_companies(inputs)
        BulkWriter(self.hook, self.log, writes).each(
            lambda item: look_up_company(self.hook, item, keyed[item]), "checked", "companies"
        )

    def _write(self, tag: dict[str, Any], writes: ItemReport, inputs: dict[str, list[str]]) -> None:
        keyed = keyed_companies(inputs)
        companies = {item: {key: item} for item, key in keyed.items()}
        BulkWriter(self.hook, self.log, writes).send_companies(
            tag["name"], companies, self.batch_size, untag=self.untag
        )


@documents_shared_parameters
class UntagCompaniesOperator(TagCompaniesOperator):
    """
    Remove a tag from companies in bulk (``untag: true``), by Intercom id or by your ``company_id``.

    For companies that left a trial, say. The tag must exist; it is never created. Otherwise it
    works as :class:`TagCompaniesOperator`, whose arguments it takes. Returns the per-item report.
    """

    untag = True
    lineage_removes = True
