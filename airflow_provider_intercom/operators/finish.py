"""
The one finish step of every writing task: the tag link, a guard's refusal, too many misses, and lineage.

Before failing, a task pushes its report to XCom (a failed task returns nothing): nothing done is lost.
Its lineage is kept whether it succeeds or fails; the Asset event is sent only on success.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_intercom.exceptions import IntercomPartialFailureError, IntercomSyncGuardError
from airflow_provider_intercom.operators.lineage import TagLineage, emit_asset_event
from airflow_provider_intercom.operators.tagging import record_tag_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def finish_task(
    operator: Any,
    context: Context,
    report: dict[str, Any],
    lineage: Callable[[], TagLineage | None],
    max_failed_ratio: float,
    subject: str,
    summary: Sequence[Any],
    *,
    out_of: int | None = None,
    refusal: str | None = None,
) -> dict[str, Any]:
    """
    Record the tag link; refuse a guarded plan, log the outcome, or fail on too many misses; keep the lineage.

    :param operator: the task (its hook and log); its lineage is kept as ``lineage_record``.
    :param context: the task's context.
    :param report: the task's report.
    :param lineage: builds the task's lineage, once the link has read the workspace's app id.
    :param max_failed_ratio: the share of ``out_of`` that may be missed.
    :param subject: what was asked, for the message, e.g. ``5 contacts``.
    :param summary: the outcome's log line: a format and its arguments.
    :param out_of: the number the ratio applies to; defaults to ``report["requested"]``.
    :param refusal: why a guard refused the plan; None when none did.
    """
    try:
        _check_outcome(operator, context, report, max_failed_ratio, subject, summary, out_of, refusal)
    finally:
        operator.lineage_record = lineage()
    emit_asset_event(operator, context, operator.lineage_record)
    return report


def _check_outcome(
    operator: Any,
    context: Context,
    report: dict[str, Any],
    max_failed_ratio: float,
    subject: str,
    summary: Sequence[Any],
    out_of: int | None,
    refusal: str | None,
) -> None:
    record_tag_link(operator.hook, operator.log, context, report["tag"])
    if refusal:
        context["ti"].xcom_push(key="return_value", value=report)  # the plan survives the refusal
        raise IntercomSyncGuardError(
            f"Refusing to sync the tag {report['tag']['name']!r}: {refusal}. Nothing was written; "
            "the plan is in this task's XCom (return_value).",
            report,
        )
    operator.log.info(*summary)
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
