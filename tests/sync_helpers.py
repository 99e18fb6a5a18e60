"""
What the sync tests share: running a sync operator directly, one that must be refused, and reading back
what it did to the sandbox.

This module is not a test module, so pytest does not rewrite its asserts: each names what it saw.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomSyncGuardError
from tests.airflow_runs import RecordingTaskInstance

VERSIONS = ["2.11", "2.16"]


def run(operator_class, **kwargs: Any) -> tuple[dict[str, Any], RecordingTaskInstance]:
    """Run a sync to its end; return its report and the task instance it pushed to."""
    ti = RecordingTaskInstance()
    return operator_class(task_id="sync", **kwargs).execute({"ti": ti}), ti


def refused(
    operator_class, match: str | None = None, **kwargs: Any
) -> tuple[IntercomSyncGuardError, dict[str, Any]]:
    """Run a sync that a guard must refuse (with a message matching ``match``); return the error and the
    plan it pushed to XCom before failing."""
    ti = RecordingTaskInstance()
    with pytest.raises(IntercomSyncGuardError, match=match) as caught:
        operator_class(task_id="sync", **kwargs).execute({"ti": ti})
    return caught.value, ti.pushed["return_value"]


def writes(sandbox) -> list[dict[str, Any]]:
    """The requests that changed something (a contact search is a POST that reads)."""
    return [
        entry
        for entry in sandbox.requests
        if entry["method"] in {"POST", "PUT", "DELETE"} and entry["path"] != "/contacts/search"
    ]


def carrying(sandbox, tag_name: str) -> set[str]:
    """The ids of the live contacts that carry the tag (none if there is no such tag)."""
    tag = sandbox.state.find_tag_by_name(tag_name)
    return {contact.id for contact in sandbox.state.live_contacts() if tag and tag.id in contact.tags}


def assert_accounted(report: dict[str, Any]) -> None:
    """Every desired item is added, unchanged, not found or failed; every extra member removed or failed."""
    settled = len(report["added"]) + report["unchanged"] + len(report["not_found"]) + len(report["removed"])
    expected = report["desired"] + report["plan"]["remove"]
    assert settled + len(report["failed"]) == expected, (settled, len(report["failed"]), expected, report)
