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
)
from airflow_provider_intercom.hooks.intercom import IntercomHook, tag_summary
from airflow_provider_intercom.links.tags import IntercomTagLink
from airflow_provider_intercom.operators.finish import finish_task
from airflow_provider_intercom.operators.inputs import gather_ids
from airflow_provider_intercom.operators.lineage import (
    TagLineage,
    openlineage_facets,
    tag_lineage,
)
from airflow_provider_intercom.operators.parameters import (  # noqa: F401 (documents_shared_parameters: re-exported)
    CONNECTION_PARAMS,
    TAG_TASK_PARAMS,
    documents_shared_parameters,
)
from airflow_provider_intercom.operators.report import ItemReport
from airflow_provider_intercom.operators.report_store import DEFAULT_MAX_XCOM_ITEMS, counts_of
from airflow_provider_intercom.operators.run_report import RunReport, windows
from airflow_provider_intercom.operators.sql_source import add_sql_ids, sql_source
from airflow_provider_intercom.operators.tagging import find_tag

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# A run resolves and writes this many items at a time: memory grows with the window, not the export.
WINDOW_ITEMS = 1000
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


def tag_task_fields(*fields: str) -> tuple[str, ...]:
    """
    Return a tag task's ``template_fields``: its own fields, then those every tag task templates.

    :param fields: the operator's own templated fields (its id lists first).
    """
    return ("tag_name", "tag_id", *fields, "is_dry_run", *_INPUT_FIELDS, *CONNECTION_FIELDS)


class _IntercomOperator(BaseOperator):
    """
    Base of the operators that manage tags themselves: the connection arguments and the hook.

    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    template_fields: Sequence[str] = CONNECTION_FIELDS
    shared_parameters_doc = CONNECTION_PARAMS

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

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Return what the task changed, for OpenLineage (None without the openlineage provider)."""
        return openlineage_facets(self, getattr(self, "lineage_record", None))

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Return what the task read and changed before it failed, for OpenLineage."""
        return openlineage_facets(self, getattr(self, "lineage_record", None))


class _TagTaskOperator(BaseOperator):
    """
    Base of the operators that apply or remove one tag on many items and report each item.

    A subclass names its id list arguments in ``id_fields`` and what it writes in ``noun``; it
    says how items become write targets (:meth:`_targets`) and how they are written
    (:meth:`_write`). The shared parameters are documented in :data:`TAG_TASK_PARAMS`.
    """

    operator_extra_links = (IntercomTagLink(),)
    shared_parameters_doc = TAG_TASK_PARAMS + CONNECTION_PARAMS
    template_ext: Sequence[str] = (".sql",)
    id_fields: tuple[str, ...] = ()  # the id list arguments; ids_file feeds the first by default
    sql_columns: dict[str, str] = {}  # a query's column name -> the id list its values fill
    noun = "items"
    lineage_objects: str | None = None  # contacts or companies: the tag's Asset; None for other items
    lineage_removes = False  # whether the items that succeeded were untagged

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
        requested = self._check_inputs(inputs)
        self._check_arguments()
        _ = self.hook.settings  # resolves token, region and version now: a bad one fails before any request
        run = RunReport(requested, self.max_xcom_items, self.report_path, self.report_conn_id)
        run.extra.update(source)
        tag: dict[str, Any] | None = None
        try:
            for number, window in enumerate(windows(inputs, WINDOW_ITEMS), start=1):
                tag = self._run_window(window, tag, dry_run, run)
                if requested > WINDOW_ITEMS:
                    self.log.info(
                        "%d of %d %s done (%s)",
                        min(number * WINDOW_ITEMS, requested),
                        requested,
                        self.noun,
                        f"{len(run.not_found)} not found, {len(run.failed)} failed",
                    )
        except BaseException:
            run.close()  # what was done stays in report_path even if the run stops here
            raise
        report = run.finish(tag_summary(tag or {"name": self.tag_name, "id": self.tag_id}), dry_run)
        counts = counts_of(report)
        summary = (
            "%s%d %s requested: %d succeeded, %d not found, %d failed",
            "Dry run: " if dry_run else "",
            report["requested"],
            self.noun,
            counts["succeeded"],
            counts["not_found"],
            counts["failed"],
        )
        subject = f"{report['requested']} {self.noun}"
        return finish_task(
            self, context, report, lambda: self.tag_lineage(report), max_failed_ratio, subject, summary
        )

    def _run_window(
        self, window: dict[str, list[str]], tag: dict[str, Any] | None, dry_run: bool, run: RunReport
    ) -> dict[str, Any]:
        """Resolve and write one window of items, record it in ``run``; return the tag (found or created)."""
        targets, extra = self._targets(window)
        writes = ItemReport(list(dict.fromkeys(target for parts in targets.values() for target in parts)))
        if tag is None or (tag.get("id") is None and writes.items and not dry_run):
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
            self._dry_run(writes, window)
        else:
            self._write(tag, writes, window)
        run.add(writes.settle(targets).as_dict(None, dry_run=dry_run, **extra))
        return tag

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Return what the task read and changed, for OpenLineage (None without the openlineage provider)."""
        return openlineage_facets(self, getattr(self, "lineage_record", None))

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Return what the task read and changed before it failed, for OpenLineage."""
        return openlineage_facets(self, getattr(self, "lineage_record", None))

    def tag_lineage(self, report: dict[str, Any]) -> TagLineage | None:
        """
        Return what the task changed, for lineage; None for items that are no tag's Asset.

        :param report: the task's report.
        """
        if self.lineage_objects is None:
            return None
        return tag_lineage(self.hook, report, self.lineage_objects, removing=self.lineage_removes)

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

    def _check_inputs(self, inputs: dict[str, list[str]], *, allow_empty: bool = False) -> int:
        """Refuse no items at all (unless ``allow_empty``), and more than ``max_items``; return how many."""
        fields = _listed(self.id_fields)
        if not allow_empty and not any(inputs.values()):
            emptiness = {1: "is empty", 2: "are both empty"}.get(
                len(self.id_fields), "are all empty or missing"
            )
            raise IntercomConfigurationError(f"Nothing to do: {fields} {emptiness}")
        count = len(dict.fromkeys(item for values in inputs.values() for item in values))
        check_max_items(count, self.max_items, fields)
        return count


def _listed(fields: Iterable[str]) -> str:
    """Name fields as a phrase: ``a``, ``a and b``, ``a, b and c``."""
    names = list(fields)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
