"""
Reports that fit XCom: a large run keeps counts and every miss in XCom, and writes its whole report to
``report_path``; a small run keeps today's report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomConfigurationError, IntercomPartialFailureError
from airflow_provider_intercom.operators.sync import SyncContactTagOperator
from airflow_provider_intercom.operators.tags import TagContactsOperator
from tests.airflow_runs import RecordingTaskInstance


def contacts(sandbox, count: int) -> list[Any]:
    return [sandbox.state.add_contact(email=f"row{n}@example.com", role="user") for n in range(count)]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_small_run_keeps_todays_report(intercom_sandbox):
    people = contacts(intercom_sandbox, 3)
    report = TagContactsOperator(task_id="t", tag_name="a", contact_ids=[p.id for p in people]).execute(
        {"ti": RecordingTaskInstance()}
    )
    assert report["succeeded"] == [p.id for p in people]
    assert "summarized" not in report
    assert "counts" not in report


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_a_large_run_keeps_counts_and_misses_in_xcom_and_everything_in_report_path(
    intercom_sandbox, tmp_path, as_url
):
    people = contacts(intercom_sandbox, 5)
    target = tmp_path / "reports" / "run.jsonl"
    emails = [p.email for p in people] + ["nobody@example.com"]
    report = TagContactsOperator(
        task_id="t",
        tag_name="a",
        emails=emails,
        max_xcom_items=3,
        max_failed_ratio=0.5,
        report_path=target.as_uri() if as_url else str(target),
    ).execute({"ti": RecordingTaskInstance()})
    assert report["summarized"] is True
    assert "succeeded" not in report
    assert report["counts"] == {"succeeded": 5, "not_found": 1, "failed": 0}
    assert report["not_found"] == ["nobody@example.com"]
    assert set(report["resolved"]) == {"unresolved", "ambiguous"}  # no email -> contacts map in XCom
    assert len(json.dumps(report)) < 1000
    records = lines(target)
    assert records[-1]["record"] == "summary"  # written last, once every item is
    assert records[-1]["counts"] == report["counts"]
    items = {r["item"]: r["outcome"] for r in records if r["record"] == "item"}
    assert items == {**{p.email: "succeeded" for p in people}, "nobody@example.com": "not_found"}
    resolved = {r["item"]: r["contacts"] for r in records if r["record"] == "resolved"}
    assert resolved == {p.email: [p.id] for p in people}


def test_a_failing_large_run_pushes_the_summary_and_writes_the_file_first(intercom_sandbox, tmp_path):
    people = contacts(intercom_sandbox, 3)
    target = tmp_path / "run.jsonl"
    ti = RecordingTaskInstance()
    operator = TagContactsOperator(
        task_id="t",
        tag_name="a",
        emails=[p.email for p in people] + ["x@example.com"],
        max_xcom_items=2,
        report_path=str(target),
    )
    with pytest.raises(IntercomPartialFailureError, match="1 of 4 contacts were not done"):
        operator.execute({"ti": ti})
    pushed = ti.pushed["return_value"]
    assert pushed["summarized"] is True
    assert pushed["not_found"] == ["x@example.com"]
    assert sum(1 for r in lines(target) if r["record"] == "item") == 4


def test_a_large_sync_lists_neither_additions_nor_removals(intercom_sandbox, tmp_path):
    people = contacts(intercom_sandbox, 6)
    TagContactsOperator(task_id="t", tag_name="seg", contact_ids=[p.id for p in people[:3]]).execute(
        {"ti": RecordingTaskInstance()}
    )
    target = tmp_path / "sync.jsonl"
    report = SyncContactTagOperator(
        task_id="s",
        tag_name="seg",
        contact_ids=[p.id for p in people[1:]],
        max_xcom_items=2,
        max_removal_ratio=1.0,
        report_path=str(target),
    ).execute({"ti": RecordingTaskInstance()})
    assert "added" not in report
    assert "removed" not in report
    assert report["counts"] == {"added": 3, "removed": 1, "not_found": 0, "failed": 0, "unchanged": 2}
    outcomes = [r["outcome"] for r in lines(target) if r["record"] == "item"]
    assert sorted(outcomes) == ["added"] * 3 + ["removed"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_xcom_items": 0}, r"max_xcom_items=0 must be a positive integer"),
        ({"report_path": "None"}, r"report_path='None' must be a path"),
    ],
)
def test_bad_report_arguments(intercom_sandbox, arguments, message):
    people = contacts(intercom_sandbox, 1)
    with pytest.raises(IntercomConfigurationError, match=message):
        TagContactsOperator(task_id="t", tag_name="a", contact_ids=[people[0].id], **arguments).execute(
            {"ti": RecordingTaskInstance()}
        )
    if "max_xcom_items" in arguments:
        assert intercom_sandbox.requests == []


# -- a run in windows: memory grows with the window, not the input ----------------------------------


def searches_and_bulk_calls(sandbox) -> tuple[int, int]:
    paths = [(entry["method"], entry["path"]) for entry in sandbox.requests]
    return paths.count(("POST", "/contacts/search")), paths.count(("POST", "/tags"))


def test_a_run_of_several_windows_tags_everyone_once_and_reports_in_input_order(intercom_sandbox, tmp_path):
    people = contacts(intercom_sandbox, 2500)  # three windows of at most 1,000
    emails = [p.email for p in people]
    report = TagContactsOperator(
        task_id="t", tag_name="big", emails=[*emails, emails[0]], max_items=3000, max_xcom_items=3000
    ).execute({"ti": RecordingTaskInstance()})
    assert report["requested"] == 2500
    assert report["succeeded"] == emails  # in input order, across windows
    assert report["resolved"]["emails"] == {p.email: [p.id] for p in people}
    # 50 emails per search and per bulk call, and the one POST /tags that created the tag
    assert searches_and_bulk_calls(intercom_sandbox) == (50, 51)
    tag = intercom_sandbox.state.find_tag_by_name("big")
    assert all(tag.id in p.tags for p in intercom_sandbox.state.live_contacts())


def test_a_tag_is_created_by_the_first_window_that_has_something_to_tag(intercom_sandbox):
    people = contacts(intercom_sandbox, 10)
    unknown = [f"nobody{n}@example.com" for n in range(1000)]  # the whole first window
    report = TagContactsOperator(
        task_id="t", tag_name="later", emails=[*unknown, *(p.email for p in people)], max_failed_ratio=1.0
    ).execute({"ti": RecordingTaskInstance()})
    assert report["summarized"] is True
    assert report["counts"]["succeeded"] == 10
    assert report["tag"]["id"] == intercom_sandbox.state.find_tag_by_name("later").id
    assert len(report["not_found"]) == 1000
