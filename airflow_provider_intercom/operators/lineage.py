"""
What a writing task tells lineage: the table or file it read, the tag it changed, as OpenLineage and Assets.

While it runs, a task keeps a :class:`TagLineage` (counts and the tag, never emails or ids), so lineage
costs no request of its own: the workspace's app id is the one the "Intercom tag" link already read, or
the connection's ``app_id`` extra. After a successful run that changed something, an event goes to the
tag's ``intercom://`` Asset through every ``AssetAlias`` among the task's outlets (or to that Asset when
it is declared); OpenLineage gets the inputs, the tag's dataset with its output statistics (and a
lifecycle change for a created or deleted tag), and the per-item failures as an error facet. Every
OpenLineage import is inside a function: without the openlineage provider, nothing here is loaded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_intercom.assets.intercom import SCHEME, tag_uri
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.id_files import shown_path
from airflow_provider_intercom.operators.report_store import counts_of

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


@dataclass(frozen=True)
class TagLineage:
    """
    What one task changed on one tag: counts only, safe to store in clear.

    :param app_id: the workspace's app id, None when it is not known without a request.
    :param tag_id: the tag's id, None when no tag exists.
    :param objects: ``contacts`` or ``companies``.
    :param api_version: the Intercom API version used.
    :param counts: ``added``, ``removed``, ``not_found``, ``failed``.
    :param errors: how many items failed each way (``not_found``, ``404 not_found``, ...).
    :param lifecycle: ``CREATE`` or ``DROP`` for a created or deleted tag.
    """

    app_id: str | None
    tag_id: str | None
    objects: str
    api_version: str
    counts: dict[str, int]
    errors: dict[str, int] = field(default_factory=dict)
    lifecycle: str | None = None

    @property
    def uri(self) -> str | None:
        """The tag's Asset URI, when the workspace and the tag are known."""
        return tag_uri(self.app_id, self.tag_id, self.objects) if self.app_id and self.tag_id else None

    @property
    def changed(self) -> int:
        """How many items now carry the tag, or no longer do."""
        return self.counts["added"] + self.counts["removed"]

    def extra(self) -> dict[str, Any]:
        """Return the Asset event's extra: counts, the tag id and the API version."""
        return {**self.counts, "tag_id": self.tag_id, "api_version": self.api_version}


def tag_lineage(
    hook: IntercomHook,
    report: dict[str, Any],
    objects: str,
    *,
    removing: bool = False,
    lifecycle: str | None = None,
) -> TagLineage:
    """
    Sum a task's report up for lineage.

    :param hook: the task's hook (its app id is read only if known).
    :param report: the task's report, whole or summarized.
    :param objects: ``contacts`` or ``companies``.
    :param removing: whether the task's ``succeeded`` items were untagged rather than tagged.
    :param lifecycle: ``CREATE`` or ``DROP`` for a created or deleted tag.
    """
    counts = counts_of(report) if "requested" in report or "desired" in report else {}
    written = 0 if report.get("dry_run") else 1  # a dry run changes nothing
    succeeded = counts.get("succeeded", 0)
    added = written * (counts.get("added", 0) + (0 if removing else succeeded))
    removed = written * (counts.get("removed", 0) + (succeeded if removing else 0))
    errors: Counter[str] = Counter()
    if counts.get("not_found"):
        errors["not_found"] = counts["not_found"]
    for failure in report.get("failed", ()):
        error = failure.get("error") or {}
        errors[f"{error.get('status') or 'no answer'} {error.get('code') or 'error'}"] += 1
    tag = report.get("tag") or {}
    return TagLineage(
        app_id=hook.known_app_id(),
        tag_id=str(tag["id"]) if tag.get("id") else None,
        objects=objects,
        api_version=hook.settings.api_version,
        counts={
            "added": added,
            "removed": removed,
            "not_found": counts.get("not_found", 0),
            "failed": counts.get("failed", 0),
        },
        errors=dict(errors),
        lifecycle=lifecycle,
    )


def emit_asset_event(operator: Any, context: Context, lineage: TagLineage | None) -> None:
    """
    Add an event on the tag's Asset to each ``AssetAlias`` among the task's outlets, counts in its extra.

    A declared outlet that is the tag's Asset gets the counts in its extra. Nothing when nothing changed.

    :param operator: the task.
    :param context: the task's context.
    :param lineage: what the task changed.
    """
    if lineage is None or not lineage.changed or lineage.uri is None or "outlet_events" not in context:
        return
    from airflow.providers.common.compat.sdk import Asset, AssetAlias

    asset, extra = Asset(uri=lineage.uri), lineage.extra()
    events = context["outlet_events"]
    for outlet in getattr(operator, "outlets", None) or ():
        if isinstance(outlet, AssetAlias):
            events[outlet].add(asset, extra=extra)
        elif isinstance(outlet, Asset) and outlet.uri == asset.uri:
            events[outlet].extra.update(extra)


def openlineage_facets(operator: Any, lineage: TagLineage | None) -> Any:
    """
    Return the task's OpenLineage facets, or None without the openlineage provider.

    :param operator: the task: its ``sql`` and ``sql_conn_id``, or ``ids_file``, name the inputs.
    :param lineage: what it changed, when it got that far.
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    from airflow.providers.common.compat.openlineage.facet import (
        Error,
        ExtractionErrorRunFacet,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )

    outputs, run_facets = [], {}
    if lineage is not None and lineage.uri is not None:
        facets: dict[str, Any] = {}
        if lineage.lifecycle:
            facets["lifecycleStateChange"] = LifecycleStateChangeDatasetFacet(
                lifecycleStateChange=LifecycleStateChange[lineage.lifecycle]
            )
        parts = urlsplit(lineage.uri)
        outputs.append(
            OutputDataset(
                namespace=f"{SCHEME}://{parts.netloc}",
                name=parts.path.lstrip("/"),
                facets=facets,
                outputFacets={
                    "outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=lineage.changed)
                },
            )
        )
    if lineage is not None and lineage.errors:
        run_facets["extractionError"] = ExtractionErrorRunFacet(
            totalTasks=sum(lineage.counts.values()),
            failedTasks=sum(lineage.errors.values()),
            errors=[
                Error(errorMessage=f"{kind}: {count} items", stackTrace=None, task=None, taskNumber=None)
                for kind, count in sorted(lineage.errors.items())
            ],
        )
    return OperatorLineage(inputs=source_datasets(operator), outputs=outputs, run_facets=run_facets)


def source_datasets(operator: Any) -> list[Any]:
    """
    Return the datasets a task read its ids from: the query's tables, or the export file.

    :param operator: the task.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    sql, conn_id, ids_file = (getattr(operator, name, None) for name in ("sql", "sql_conn_id", "ids_file"))
    if isinstance(sql, str) and sql.strip() and conn_id:
        return _sql_inputs(sql, conn_id)
    if isinstance(ids_file, str) and ids_file.strip():
        parts = urlsplit(shown_path(ids_file.strip()))  # never credentials
        if parts.scheme in ("", "file"):  # OpenLineage names a local file by its path in the "file" namespace
            return [Dataset(namespace="file", name=parts.path)]
        return [Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/"))]
    return []


def _sql_inputs(sql: str, conn_id: str) -> list[Any]:
    """Name the query's tables as ``SQLExecuteQueryOperator`` does, or by the connection's type and host."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.common.compat.sdk import BaseHook
    from airflow.providers.openlineage.sqlparser import SQLParser
    from airflow.providers.openlineage.utils.utils import should_use_external_connection

    hook: Any = BaseHook.get_connection(conn_id).get_hook()
    connection = hook.get_connection(getattr(hook, hook.conn_name_attr))
    database_info = hook.get_openlineage_database_info(connection)
    if database_info is not None:
        parser = SQLParser(
            dialect=hook.get_openlineage_database_dialect(connection),
            default_schema=hook.get_openlineage_default_schema(),
        )
        found = parser.generate_openlineage_metadata_from_sql(
            sql=sql,
            hook=hook,
            database_info=database_info,
            database=None,
            sqlalchemy_engine=hook.get_sqlalchemy_engine(),
            use_connection=should_use_external_connection(hook),
        )
        return list(found.inputs)
    # A hook without OpenLineage database info (SQLite's): the parsed tables, in the connection's namespace.
    meta = SQLParser().parse(sql)
    namespace = f"{connection.conn_type}://{connection.host or ''}"
    return [
        Dataset(namespace=namespace, name=table.qualified_name) for table in (meta.in_tables if meta else [])
    ]
