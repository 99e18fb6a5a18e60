"""
Reviewed syncs: a sync with ``plan_only=True`` freezes its plan; ``ApplyTagPlanOperator`` applies exactly
that plan later, refuses it as stale when the tag's members moved meanwhile, and never applies it twice.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import (
    IntercomConfigurationError,
    IntercomStalePlanError,
    IntercomTagNotFoundError,
)
from airflow_provider_intercom.operators.sync import (
    ApplyTagPlanOperator,
    SyncCompanyTagOperator,
    SyncContactTagOperator,
)
from airflow_provider_intercom.operators.tag_plan import PLAN_TYPE, fingerprint
from tests.airflow_runs import RecordingTaskInstance
from tests.sync_helpers import carrying, writes

TAG = "churn-risk"


def execute(operator_class, **kwargs: Any) -> dict[str, Any]:
    return operator_class(task_id="t", **kwargs).execute({"ti": RecordingTaskInstance()})


def contacts(sandbox, count: int, *, tagged: int = 0, prefix: str = "c") -> list[str]:
    """Add ``count`` contacts, the first ``tagged`` of them carrying the tag; return their ids."""
    tag = sandbox.state.find_tag_by_name(TAG) or sandbox.state.add_tag(TAG)
    return [
        sandbox.state.add_contact(
            email=f"{prefix}{n}@example.com", role="user", tags=[tag.id] if n < tagged else []
        ).id
        for n in range(count)
    ]


def plan_contacts(desired: list[str], **kwargs: Any) -> dict[str, Any]:
    """Plan a contact sync of the tag to ``desired``, guards relaxed unless told."""
    arguments = {"max_removal_ratio": 1.0, "max_removals": 10**6, **kwargs}
    return execute(SyncContactTagOperator, tag_name=TAG, contact_ids=desired, plan_only=True, **arguments)


# -- the plan -------------------------------------------------------------------------------------------


def test_a_plan_only_sync_writes_nothing_and_returns_the_whole_plan(intercom_sandbox):
    ids = contacts(intercom_sandbox, 6, tagged=4)  # members 0-3; desired 2-5
    plan = plan_contacts(ids[2:])
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, TAG) == set(ids[:4])
    tag = intercom_sandbox.state.find_tag_by_name(TAG)
    assert plan["type"] == PLAN_TYPE
    assert plan["objects"] == "contacts"
    assert plan["tag"] == {"type": "tag", "id": tag.id, "name": TAG}
    assert (plan["add"], plan["remove"]) == (ids[4:], ids[:2])
    assert plan["counts"] == {"add": 2, "remove": 2, "unchanged": 2, "members": 4}
    assert plan["desired"] == 4
    assert plan["api_version"] == "2.11"
    assert plan["guard"] is None
    assert plan["fingerprint"] == fingerprint(ids[:4])
    assert plan["fingerprint"]["members"] == 4
    assert "created_at" in plan
    assert "**remove 2**, add 2, unchanged 2" in plan["summary"]
    assert f"`{ids[0]}`" in plan["summary"]
    assert "guard: none tripped" in plan["summary"]


def test_a_tripped_guard_does_not_fail_a_plan_only_task_but_is_named_in_the_plan(intercom_sandbox):
    ids = contacts(intercom_sandbox, 10, tagged=10)
    plan = execute(SyncContactTagOperator, tag_name=TAG, contact_ids=ids[:2], plan_only=True, max_removals=3)
    assert writes(intercom_sandbox) == []
    assert "more than max_removals=3" in plan["guard"]
    assert plan["counts"]["remove"] == 8
    assert "guard: the sync would remove the tag from 8 members" in plan["summary"]
    # Only the first 20 of each list are shown.
    many = contacts(intercom_sandbox, 30, prefix="n")
    big = plan_contacts(ids + many)
    assert big["summary"].count("`") == 2 * 20
    assert "and 10 more" in big["summary"]


# -- apply exactly that plan ------------------------------------------------------------------------------


def test_plan_then_apply_changes_exactly_the_planned_items_and_a_second_apply_writes_nothing(
    intercom_sandbox,
):
    ids = contacts(intercom_sandbox, 6, tagged=4)
    plan = plan_contacts(ids[2:])
    report = execute(ApplyTagPlanOperator, plan=plan)
    assert carrying(intercom_sandbox, TAG) == set(ids[2:])
    assert (report["added"], report["removed"], report["not_found"], report["failed"]) == (
        ids[4:],
        ids[:2],
        [],
        [],
    )
    assert (report["desired"], report["unchanged"], report["plan"]) == (4, 2, {"add": 2, "remove": 2})
    assert report["applied"]["checksum"] == plan["checksum"]
    assert report["applied"]["already_done"] == {"add": 0, "remove": 0}
    assert report["applied"]["fingerprint_then"] == fingerprint(ids[:4])
    assert report["applied"]["fingerprint_now"] == fingerprint(ids[:4])  # read before its own writes

    intercom_sandbox.state.clear_request_log()
    again = execute(ApplyTagPlanOperator, plan=plan)
    assert writes(intercom_sandbox) == []
    assert again["applied"]["already_done"] == {"add": 2, "remove": 2}
    assert carrying(intercom_sandbox, TAG) == set(ids[2:])


def test_the_plan_is_applied_not_a_recomputed_difference(intercom_sandbox):
    ids = contacts(intercom_sandbox, 5, tagged=3)
    plan = plan_contacts(ids[1:4])  # add 3, remove 0
    # The apply takes no desired set at all: only the plan says what to write.
    execute(ApplyTagPlanOperator, plan=plan)
    assert carrying(intercom_sandbox, TAG) == set(ids[1:4])
    assert [entry["method"] for entry in writes(intercom_sandbox)] == ["POST", "DELETE"]


@pytest.mark.parametrize("change", ["tagged", "untagged"])
def test_members_moved_since_planning_make_the_apply_refuse_with_zero_writes(intercom_sandbox, change):
    ids = contacts(intercom_sandbox, 8, tagged=4)
    plan = plan_contacts(ids[1:5])  # remove ids[0], add ids[4]
    tag = intercom_sandbox.state.find_tag_by_name(TAG)
    if change == "tagged":  # someone else tags a contact the plan does not add
        intercom_sandbox.state.contacts[ids[6]].tags[tag.id] = 0
    else:  # or untags a member the plan keeps
        del intercom_sandbox.state.contacts[ids[2]].tags[tag.id]
    before = carrying(intercom_sandbox, TAG)
    intercom_sandbox.state.clear_request_log()
    with pytest.raises(
        IntercomStalePlanError, match=r"as stale: .*\(1 moved, max_drift=0 allows 0\)"
    ) as caught:
        execute(ApplyTagPlanOperator, plan=plan)
    expected = {"appeared": 1, "vanished": 0} if change == "tagged" else {"appeared": 0, "vanished": 1}
    assert caught.value.drift == {**expected, "max_drift": 0}
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, TAG) == before

    # max_drift=1 tolerates that one change: the plan is applied, the other change left as it is.
    execute(ApplyTagPlanOperator, plan=plan, max_drift=1)
    assert carrying(intercom_sandbox, TAG) == before - {ids[0]} | {ids[4]}


def test_a_company_plan_is_applied_by_both_ids(intercom_sandbox):
    state = intercom_sandbox.state
    tag = state.add_tag(TAG)
    companies = [
        state.add_company(company_id=f"acct-{n}", name=f"A{n}", tags=[tag.id] if n < 2 else [])
        for n in range(4)
    ]
    plan = execute(
        SyncCompanyTagOperator,
        tag_name=TAG,
        company_external_ids=["acct-1", "acct-2"],
        company_ids=[companies[3].id],
        plan_only=True,
        max_removal_ratio=1.0,
    )
    assert plan["objects"] == "companies"
    assert plan["add"] == [{"id": companies[3].id}, {"company_id": "acct-2"}]
    assert plan["remove"] == [{"id": companies[0].id, "company_id": "acct-0"}]
    assert writes(intercom_sandbox) == []
    report = execute(ApplyTagPlanOperator, plan=plan, objects="companies")
    assert {c.id for c in state.companies.values() if tag.id in c.tags} == {c.id for c in companies[1:]}
    assert sorted(report["added"]) == sorted([companies[3].id, "acct-2"])
    assert report["removed"] == [companies[0].id]


def test_a_plan_for_a_tag_that_does_not_exist_yet_creates_it_on_apply(intercom_sandbox):
    ids = contacts(intercom_sandbox, 2)
    plan = execute(SyncContactTagOperator, tag_name="brand-new", contact_ids=ids, plan_only=True)
    assert plan["tag"]["id"] is None
    assert intercom_sandbox.state.find_tag_by_name("brand-new") is None
    execute(ApplyTagPlanOperator, plan=plan)
    assert carrying(intercom_sandbox, "brand-new") == set(ids)


# -- where the plan lives -----------------------------------------------------------------------------------


def test_a_large_plan_must_name_a_plan_path_and_xcom_then_holds_only_its_summary(intercom_sandbox, tmp_path):
    ids = contacts(intercom_sandbox, 30, tagged=20)
    with pytest.raises(IntercomConfigurationError, match=r"plan_path=None: the plan lists 40 ids"):
        plan_contacts(ids[10:], max_xcom_items=25)
    path = tmp_path / "plans" / "churn.json"
    summary = plan_contacts(ids[10:], max_xcom_items=25, plan_path=str(path))
    assert summary["plan_path"] == str(path)
    assert not {"members", "add", "remove"} & set(summary)
    assert json.loads(path.read_text())["checksum"] == summary["checksum"]
    execute(ApplyTagPlanOperator, plan=summary)
    assert carrying(intercom_sandbox, TAG) == set(ids[10:])


def test_a_plan_file_url_is_applied_from_plan_path_alone(intercom_sandbox, tmp_path):
    ids = contacts(intercom_sandbox, 4, tagged=2)
    url = (tmp_path / "plan.json").as_uri()  # file:// goes through ObjectStoragePath
    plan_contacts(ids[1:], plan_path=url)
    execute(ApplyTagPlanOperator, plan_path=url)
    assert carrying(intercom_sandbox, TAG) == set(ids[1:])


# -- bad input, before any write -------------------------------------------------------------------


@pytest.fixture
def plan_file(intercom_sandbox, tmp_path) -> tuple[Path, dict[str, Any]]:
    ids = contacts(intercom_sandbox, 4, tagged=2)
    path = tmp_path / "plan.json"
    summary = plan_contacts(ids[1:], plan_path=str(path))
    intercom_sandbox.state.clear_request_log()
    return path, summary


def _truncate(path: Path) -> None:
    path.write_text(path.read_text()[:-40])


def _edit(path: Path) -> None:
    plan = json.loads(path.read_text())
    plan["remove"].append(plan["members"][-1])  # one more removal, slipped in by hand
    path.write_text(json.dumps(plan))


@pytest.mark.parametrize(
    ("spoil", "arguments", "message"),
    [
        (Path.unlink, {}, r"plan_path '.*plan.json' cannot be read"),
        (_truncate, {}, r"is not a whole plan: its JSON is cut short or damaged"),
        (_edit, {}, r"was changed after it was planned: its checksum does not match"),
        (None, {"tag_name": "vip"}, r"tag_name='vip', but the plan is for tag_name='churn-risk'"),
        (None, {"objects": "companies"}, r"objects='companies', but the plan is for objects='contacts'"),
        (None, {"objects": "tickets"}, r"objects='tickets' must be one of: contacts, companies"),
        (None, {"api_version": "2.16"}, r"made with api_version='2.11', but .* uses api_version='2.16'"),
        (None, {"max_drift": -1}, r"max_drift"),
    ],
)
def test_a_bad_plan_or_argument_is_refused_before_any_write(
    intercom_sandbox, plan_file, spoil, arguments, message
):
    path, summary = plan_file
    if spoil is not None:
        spoil(path)
    with pytest.raises(IntercomConfigurationError, match=message):
        execute(ApplyTagPlanOperator, plan_path=str(path), **arguments)
    assert intercom_sandbox.requests == []


def test_a_summary_whose_file_holds_another_plan_is_refused(intercom_sandbox, plan_file, tmp_path):
    path, summary = plan_file
    other = tmp_path / "other.json"
    plan_contacts([], allow_empty=True, plan_path=str(other))
    path.write_text(other.read_text())
    with pytest.raises(
        IntercomConfigurationError, match=r"holds another plan than the one this task was given"
    ):
        execute(ApplyTagPlanOperator, plan=summary)
    assert writes(intercom_sandbox) == []


def test_a_missing_plan_and_a_renamed_or_deleted_tag_are_refused(intercom_sandbox, plan_file):
    path, summary = plan_file
    with pytest.raises(IntercomConfigurationError, match=r"give a plan .* or plan_path"):
        execute(ApplyTagPlanOperator, plan="None")
    tag = intercom_sandbox.state.find_tag_by_name(TAG)
    tag.name = "churn-risk-old"
    with pytest.raises(IntercomStalePlanError, match=r"renamed from 'churn-risk' to 'churn-risk-old'"):
        execute(ApplyTagPlanOperator, plan=summary)
    del intercom_sandbox.state.tags[tag.id]
    with pytest.raises(IntercomTagNotFoundError, match=r"no longer exists"):
        execute(ApplyTagPlanOperator, plan=summary)
    assert writes(intercom_sandbox) == []


def test_deleted_contacts_in_a_plan_are_reported_not_found(intercom_sandbox):
    ids = contacts(intercom_sandbox, 4, tagged=1)
    plan = plan_contacts(ids)
    del intercom_sandbox.state.contacts[ids[3]]  # gone between plan and apply
    report = execute(ApplyTagPlanOperator, plan=plan, max_failed_ratio=0.5)
    assert report["not_found"] == [ids[3]]
    assert Counter(report["added"]) == Counter(ids[1:3])


def test_an_unreadable_plan_url_is_named_without_its_credentials(intercom_sandbox):
    url = "nosuchstore://svc-user:s3cr3t-pass@bucket/plans/vip.json"
    with pytest.raises(
        IntercomConfigurationError, match=r"plan_path 'nosuchstore://bucket/plans/vip.json' cannot be read"
    ) as caught:
        execute(ApplyTagPlanOperator, plan_path=url, plan_conn_id="my_store")
    assert "s3cr3t-pass" not in str(caught.value)
    assert "svc-user" not in str(caught.value)
    assert intercom_sandbox.requests == []
