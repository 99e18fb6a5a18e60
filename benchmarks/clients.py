"""
The two clients the bench compares: the provider's operators and the official SDK (python-intercom 5.0.1).

Imports Airflow: import it only after ``common.bench_env`` has set the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from intercom import Intercom
from intercom.core.api_error import ApiError
from intercom.errors import NotFoundError
from intercom.types import CreateOrUpdateTagRequest

from airflow_provider_intercom.operators.tags import TagContactsOperator, UntagContactsOperator
from benchmarks.common import TAG_ID, TAG_NAME


class RecordingTaskInstance:
    """Stands in for the task instance in a direct ``execute()`` call (the report is pushed on failure)."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep what the operator pushes."""
        self.pushed[key] = value


def execute(operator: Any) -> dict[str, Any]:
    """Run an operator's ``execute`` outside a DAG run and return its report."""
    return operator.execute({"ti": RecordingTaskInstance()})


def tag_operator(ids: Sequence[str], conn_id: str, api_version: str) -> TagContactsOperator:
    """
    Tag ``ids`` with the bench tag by name (created if missing), 50 per call; misses do not fail it.

    ``max_items`` is raised to the input's size, as a DAG author tagging this many would.
    """
    return TagContactsOperator(
        task_id="bench_tag",
        tag_name=TAG_NAME,
        contact_ids=list(ids),
        intercom_conn_id=conn_id,
        api_version=api_version,
        max_failed_ratio=1.0,
        max_items=max(len(ids), 1),
    )


def untag_operator(ids: Sequence[str], conn_id: str, max_workers: int | None) -> tuple[Any, str]:
    """
    Untag ``ids`` by tag id with ``max_workers`` threads.

    :return: the operator, and a note that says so when the operator has no ``max_workers`` yet
        (then it runs with its default, one call at a time).
    """
    kwargs: dict[str, Any] = {
        "task_id": "bench_untag",
        "tag_id": TAG_ID,
        "contact_ids": list(ids),
        "intercom_conn_id": conn_id,
        "max_failed_ratio": 1.0,
    }
    if max_workers is None:
        return UntagContactsOperator(**kwargs), ""
    try:
        return UntagContactsOperator(**kwargs, max_workers=max_workers), ""
    except Exception as error:  # Airflow 2 raises AirflowException, Airflow 3 TypeError
        if "max_workers" not in str(error):
            raise
        return UntagContactsOperator(
            **kwargs
        ), "UntagContactsOperator has no max_workers yet: ran sequentially"


def sdk_client(conn_env_var: str = "AIRFLOW_CONN_INTERCOM_DEFAULT") -> Intercom:
    """Build the SDK client from the same Airflow connection, sending its ``Intercom-Version``."""
    conn = json.loads(os.environ[conn_env_var])
    version = conn["extra"]["api_version"]
    return Intercom(token=conn["password"], base_url=conn["host"], headers={"Intercom-Version": version})


def sdk_create_tag(client: Intercom) -> str:
    """Create (or find) the bench tag through the SDK; return its id."""
    return str(client.tags.create(request=CreateOrUpdateTagRequest(name=TAG_NAME)).id)


def _count_outcomes(ids: Sequence[str], call: Callable[[str], Any]) -> dict[str, int]:
    """Make one SDK call per id, counting what became of each."""
    counts = {"succeeded": 0, "not_found": 0, "failed": 0}
    for contact_id in ids:
        try:
            call(contact_id)
        except NotFoundError:
            counts["not_found"] += 1
        except ApiError:
            counts["failed"] += 1
        else:
            counts["succeeded"] += 1
    return counts


def sdk_tag_each(client: Intercom, ids: Sequence[str], tag_id: str) -> dict[str, int]:
    """The SDK's way to tag contacts: one ``tags.tag_contact`` per contact, counting outcomes."""
    return _count_outcomes(ids, lambda contact_id: client.tags.tag_contact(contact_id, tag_id=tag_id))


def sdk_untag_each(client: Intercom, ids: Sequence[str], tag_id: str = TAG_ID) -> dict[str, int]:
    """The SDK's sequential untag loop, with its default options (no retries), counting outcomes."""
    return _count_outcomes(ids, lambda contact_id: client.tags.untag_contact(contact_id, tag_id))


def report_counts(report: dict[str, Any]) -> dict[str, int]:
    """Reduce an operator report to outcome counts (a large run's report carries them already)."""
    return {key: outcome_count(report, key) for key in ("succeeded", "not_found", "failed")}


def outcome_count(report: dict[str, Any], key: str) -> int:
    """How many items a report lists under ``key``; a summarized report only counts them."""
    return int(report["counts"][key]) if report.get("summarized") else len(report[key])
