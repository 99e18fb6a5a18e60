"""
What every Intercom operator shares: the hook, the tag look-up, the tag link, the finish step.

Two private bases, each directly on ``BaseOperator``: :class:`_IntercomOperator` for the operators
that manage tags themselves (list, create, delete) and :class:`_TagTaskOperator` for those that tag
many items and report each one. Neither inherits the other, so a public operator has exactly one
private base; what both need is written once, as the functions below.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_intercom._validation import (
    DEFAULT_MAX_ITEMS,
    check_max_items,
    require_one_tag,
    validate_flag,
    validate_positive_int,
    validate_ratio,
)
from airflow_provider_intercom.exceptions import (
    IntercomConfigurationError,
    IntercomPartialFailureError,
    IntercomSyncGuardError,
)
from airflow_provider_intercom.hooks.intercom import IntercomHook, tag_summary
from airflow_provider_intercom.links.tags import IntercomTagLink
from airflow_provider_intercom.operators.inputs import gather_ids
from airflow_provider_intercom.operators.report import ItemReport
from airflow_provider_intercom.operators.report_store import DEFAULT_MAX_XCOM_ITEMS, publish
from airflow_provider_intercom.operators.sql_source import add_sql_ids, sql_source
from airflow_provider_intercom.operators.tagging import find_tag, record_tag_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

CONNECTION_FIELDS = ("intercom_conn_id", "api_version", "region")
_INPUT_FIELDS = (
    "id_key",
    "ids_file",
    "ids_file_conn_id",
    "sql",
    "sql_conn_id",
    "sql_parameters",
    "report_path",
)

# The parameters of every tag task, documented once and appended to each operator's docstring.
TAG_TASK_PARAMS = """
    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`~airflow_provider_intercom.operators.inputs.chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to; defaults to the operator's first.
    :param ids_file_conn_id: the Airflow connection of the object store when ``ids_file`` is a URL
        (``s3://...``, ``gs://...``); ``file://`` and local paths need none. A ``.gz`` file
        (``churn.csv.gz``) is decompressed as it streams.
    :param sql: a query whose rows are more ids, read through the database connection ``sql_conn_id``
        and streamed with ``fetchmany`` (templated; a ``.sql`` file is read as a template). Its one
        column (or the column ``id_key`` names) decides the id list it fills: see the operator's
        ``sql_columns``. NULL and empty values are skipped and counted in the report's ``sql``.
    :param sql_conn_id: the Airflow connection of the database; its hook must be a common-sql
        ``DbApiHook`` (Postgres, Snowflake, BigQuery, SQLite, ...).
    :param sql_parameters: the query's parameters, passed to the driver (templated).
    :param sql_id_field: the id list the query fills whatever its column is named, e.g. ``"emails"``.
    :param report_path: where the whole per-item report goes, one JSON line per item: a local path
        or an object-storage URL (templated). Written for every run when given.
    :param report_conn_id: the object store's connection when ``report_path`` is a URL.
    :param max_xcom_items: above this many items, the report in XCom keeps counts and every miss
        but not the lists of items done (``summarized: true``); see ``report_path``. Default 1,000.
"""
CONNECTION_PARAMS = """
    :param intercom_conn_id: the Airflow connection to use (templated).
    :param api_version: overrides the connection's ``api_version`` extra (templated).
    :param region: overrides the connection's ``region`` extra, us, eu or au (templated).
"""


def tag_task_fields(*fields: str) -> tuple[str, ...]:
    """
    Return a tag task's ``template_fields``: its own fields, then those every tag task templates.

    :param fields: the operator's own templated fields (its id lists first).
    """
    return ("tag_name", "tag_id", *fields, "is_dry_run", *_INPUT_FIELDS, *CONNECTION_FIELDS)


def documents_shared_parameters(cls: type[BaseOperator]) -> type[BaseOperator]:
    """
    Append the shared parameters' docs to an operator's docstring, so each class shows them all.

    :param cls: the operator class.
    """
    shared = CONNECTION_PARAMS if issubclass(cls, _IntercomOperator) else TAG_TASK_PARAMS + CONNECTION_PARAMS
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n" + shared
    return cls


class _IntercomOperator(BaseOperator):
    """
    Base of the operators that manage tags themselves: the connection arguments and the hook.

    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    template_fields: Sequence[str] = CONNECTION_FIELDS

    def __init__(
        self,
        *,
        intercom_conn_id: str = IntercomHook.default_conn_name,
        api_version: str | None = None,
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.intercom_conn_id, self.api_version, self.region = intercom_conn_id, api_version, region

    @cached_property
    def hook(self) -> IntercomHook:
        """The hook for this task's connection, region and version."""
        return IntercomHook(self.intercom_conn_id, region=self.region, api_version=self.api_version)


class _TagTaskOperator(BaseOperator):
    """
    Base of the operators that apply or remove one tag on many items and report each item.

    A subclass names its id list arguments in ``id_fields`` and what it writes in ``noun``; it
    says how items become write targets (:meth:`_targets`) and how they are written
    (:meth:`_write`). The shared parameters are documented in :data:`TAG_TASK_PARAMS`.
    """

    operator_extra_links = (IntercomTagLink(),)
    template_ext: Sequence[str] = (".sql",)
    id_fields: tuple[str, ...] = ()  # the id list arguments; ids_file feeds the first by default
    sql_columns: dict[str, str] = {}  # a query's column name -> the id list its values fill
    noun = "items"

    def __init__(
        self,
        *,
        tag_name: str | None = None,
        tag_id: str | None = None,
        dry_run: bool | str = False,
        max_failed_ratio: float = 0.0,
        max_items: int = DEFAULT_MAX_ITEMS,
        id_key: str | None = None,
        ids_file: str | None = None,
        ids_file_field: str | None = None,
        ids_file_conn_id: str | None = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        sql_parameters: Any = None,
        sql_id_field: str | None = None,
        report_path: str | None = None,
        report_conn_id: str | None = None,
        max_xcom_items: int = DEFAULT_MAX_XCOM_ITEMS,
        intercom_conn_id: str = IntercomHook.default_conn_name,
        api_version: str | None = None,
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tag_name, self.tag_id = tag_name, tag_id
        self.id_key, self.ids_file, self.ids_file_field = id_key, ids_file, ids_file_field
        self.ids_file_conn_id = ids_file_conn_id
        self.report_path, self.report_conn_id, self.max_xcom_items = (
            report_path,
            report_conn_id,
            max_xcom_items,
        )
        self.sql, self.sql_conn_id, self.sql_parameters, self.sql_id_field = (
            sql,
            sql_conn_id,
            sql_parameters,
            sql_id_field,
        )
        # BaseOperator has a dry_run() method, so the flag is stored under another name.
        self.is_dry_run = dry_run
        self.max_failed_ratio, self.max_items = max_failed_ratio, max_items
        self.intercom_conn_id, self.api_version, self.region = intercom_conn_id, api_version, region

    @cached_property
    def hook(self) -> IntercomHook:
        """The hook for this task's connection, region and version."""
        return IntercomHook(self.intercom_conn_id, region=self.region, api_version=self.api_version)

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Resolve the items, write the tag change, and return the per-item report (XCom).

        :param context: The task context.
        """
        dry_run, max_failed_ratio = self._validated_options()
        inputs, source = self._read_inputs()
        self._check_inputs(inputs)
        self._check_arguments()
        _ = self.hook.settings  # resolves token, region and version now: a bad one fails before any request
        targets, extra = self._targets(inputs)
        extra.update(source)
        writes = ItemReport(list(dict.fromkeys(target for parts in targets.values() for target in parts)))
        tag = find_tag(
            self.hook,
            self.log,
            self.tag_name,
            self.tag_id,
            create=self._may_create_tag(),
            dry_run=dry_run,
            needed=bool(writes.items),
        )
        if dry_run:
            self._dry_run(writes, inputs)
        else:
            self._write(tag, writes, inputs)
        report = writes.settle(targets).as_dict(tag_summary(tag), dry_run=dry_run, **extra)
        summary = (
            "%s%d %s requested: %d succeeded, %d not found, %d failed",
            "Dry run: " if dry_run else "",
            report["requested"],
            self.noun,
            len(report["succeeded"]),
            len(report["not_found"]),
            len(report["failed"]),
        )
        return self._finish(context, report, max_failed_ratio, f"{report['requested']} {self.noun}", summary)

    # -- what a subclass says -------------------------------------------------------------------------

    def _check_arguments(self) -> None:
        """Check the subclass's own arguments, before any request."""

    def _targets(self, inputs: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, Any]]:
        """Map each requested item to what is written for it; return that and extra report keys."""
        return {item: [item] for values in inputs.values() for item in values}, {}

    def _may_create_tag(self) -> bool:
        return False

    def _dry_run(self, writes: ItemReport, inputs: dict[str, list[str]]) -> None:
        """Record what a dry run reports for the writes: by default, that each would be done."""
        writes.succeed_all()

    def _write(self, tag: dict[str, Any], writes: ItemReport, inputs: dict[str, list[str]]) -> None:
        """Write the tag change to each of ``writes``' items, recording each outcome there."""
        raise NotImplementedError

    # -- shared steps ---------------------------------------------------------------------------------

    def _validated_options(self) -> tuple[bool, float]:
        """Check the tag choice, ``dry_run`` and ``max_failed_ratio``; return the last two."""
        require_one_tag(self.tag_name, self.tag_id)
        validate_positive_int(self.max_xcom_items, "max_xcom_items")
        return validate_flag(self.is_dry_run, "dry_run"), validate_ratio(
            self.max_failed_ratio, "max_failed_ratio"
        )

    def _id_inputs(self) -> dict[str, list[str]]:
        """Read every id list argument, ``ids_file`` and ``sql`` into their lists; no Intercom request."""
        return self._read_inputs()[0]

    def _read_inputs(self) -> tuple[dict[str, list[str]], dict[str, Any]]:
        """Read the id lists, then the query's ids; return them and the report's ``sql`` summary."""
        inputs = self._argument_ids()
        if self.sql is None:
            return inputs, {}
        source = sql_source(self.sql, self.sql_conn_id, self.sql_parameters)
        summary = add_sql_ids(
            inputs, source, id_key=self.id_key, id_field=self.sql_id_field, columns=self.sql_columns
        )
        self.log.info(
            "Read %d rows from sql on %r: %d ids for %s, %d empty skipped",
            source.rows,
            source.conn_id,
            len(inputs[summary["sql"]["field"]]),
            summary["sql"]["field"],
            source.skipped_empty,
        )
        return inputs, summary

    def _argument_ids(self) -> dict[str, list[str]]:
        """Read every id list argument, with ``id_key``, and ``ids_file`` into its list; no request."""
        target = self.id_fields[0] if self.ids_file_field is None else self.ids_file_field
        if target not in self.id_fields:
            raise IntercomConfigurationError(
                f"ids_file_field={target!r} must be one of: {', '.join(self.id_fields)}"
            )
        return {
            field: gather_ids(
                getattr(self, field),
                field,
                id_key=self.id_key,
                ids_file=self.ids_file if field == target else None,
                ids_file_conn_id=self.ids_file_conn_id,
            )
            for field in self.id_fields
        }

    def _check_inputs(self, inputs: dict[str, list[str]], *, allow_empty: bool = False) -> None:
        """Refuse no items at all (unless ``allow_empty``), and more than ``max_items``."""
        fields = _listed(self.id_fields)
        if not allow_empty and not any(inputs.values()):
            emptiness = {1: "is empty", 2: "are both empty"}.get(
                len(self.id_fields), "are all empty or missing"
            )
            raise IntercomConfigurationError(f"Nothing to do: {fields} {emptiness}")
        check_max_items(
            len(dict.fromkeys(item for values in inputs.values() for item in values)), self.max_items, fields
        )

    def _finish(
        self,
        context: Context,
        report: dict[str, Any],
        max_failed_ratio: float,
        subject: str,
        summary: Sequence[Any],
        *,
        out_of: int | None = None,
        refusal: str | None = None,
    ) -> dict[str, Any]:
        """
        Record the tag link; refuse a guarded plan, log the outcome, or fail on too many misses.

        Before failing, the report is pushed to XCom (a failed task returns nothing): nothing done is lost.

        :param context: the task's context.
        :param report: the task's report.
        :param max_failed_ratio: the share of ``out_of`` that may be missed.
        :param subject: what was asked, for the message, e.g. ``5 contacts``.
        :param summary: the outcome's log line: a format and its arguments.
        :param out_of: the number the ratio applies to; defaults to ``report["requested"]``.
        :param refusal: why a guard refused the plan; None when none did.
        """
        record_tag_link(self.hook, self.log, context, report["tag"])
        report = publish(
            report, path=self.report_path, conn_id=self.report_conn_id, max_items=self.max_xcom_items
        )
        if refusal:
            context["ti"].xcom_push(key="return_value", value=report)  # the plan survives the refusal
            raise IntercomSyncGuardError(
                f"Refusing to sync the tag {report['tag']['name']!r}: {refusal}. Nothing was written; "
                "the plan is in this task's XCom (return_value).",
                report,
            )
        self.log.info(*summary)
        not_found, failed = len(report["not_found"]), len(report["failed"])
        allowed = max_failed_ratio * (report["requested"] if out_of is None else out_of)
        if not_found + failed > allowed:
            context["ti"].xcom_push(key="return_value", value=report)
            raise IntercomPartialFailureError(
                f"{not_found + failed} of {subject} were not done ({not_found} not found, {failed} failed); "
                f"max_failed_ratio={max_failed_ratio} allows {int(allowed)}. "
                "The per-item report is in this task's XCom (return_value).",
                report,
            )
        return report


def _listed(fields: Iterable[str]) -> str:
    """Name fields as a phrase: ``a``, ``a and b``, ``a, b and c``."""
    names = list(fields)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
