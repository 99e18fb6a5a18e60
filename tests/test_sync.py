"""Desired-state sync of a tag, for contacts and companies, with its guards, against the sandbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.sync import SyncCompanyTagOperator, SyncContactTagOperator
from tests.sync_helpers import VERSIONS, assert_accounted, carrying, refused, run, writes


@pytest.fixture
def members(intercom_sandbox):
    """Five contacts; the first three carry "churn-risk"."""
    state = intercom_sandbox.state
    tag = state.add_tag("churn-risk")
    ids = [
        state.add_contact(email=f"p{n}@example.com", external_id=f"x-{n}", tags=[tag.id] if n < 3 else []).id
        for n in range(5)
    ]
    return ids


@pytest.mark.parametrize("version", VERSIONS)
def test_contact_sync_adds_and_removes_exactly_the_difference(intercom_sandbox, members, version):
    sync = {
        "tag_name": "churn-risk",
        "contact_ids": [members[1], members[2], members[3]],
        "emails": ["p4@example.com", "nobody@example.com"],
        "api_version": version,
        "max_failed_ratio": 0.5,
        "max_removal_ratio": 0.5,
    }
    report, _ = run(SyncContactTagOperator, **sync)
    assert carrying(intercom_sandbox, "churn-risk") == set(members[1:])
    assert report["desired"] == 5
    assert report["current"] == 3
    assert report["added"] == [members[3], "p4@example.com"]
    assert report["removed"] == [members[0]]
    assert report["unchanged"] == 2
    assert report["not_found"] == ["nobody@example.com"]
    assert report["failed"] == []
    assert report["plan"] == {"add": 2, "remove": 1}
    assert_accounted(report)

    intercom_sandbox.state.clear_request_log()
    again, _ = run(SyncContactTagOperator, **sync)
    assert writes(intercom_sandbox) == []  # a rerun is a no-op
    assert (again["added"], again["removed"], again["unchanged"]) == ([], [], 4)
    assert_accounted(again)


def test_contact_sync_dry_run_writes_nothing(intercom_sandbox, members):
    report, _ = run(
        SyncContactTagOperator,
        tag_name="churn-risk",
        contact_ids=members[2:],
        dry_run=True,
        max_removal_ratio=1.0,
    )
    assert report["dry_run"] is True
    assert report["plan"] == {"add": 2, "remove": 2}
    assert report["removed"] == members[:2]
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, "churn-risk") == set(members[:3])
    assert_accounted(report)


def test_guard_refuses_too_many_removals_and_keeps_the_plan(intercom_sandbox):
    state = intercom_sandbox.state
    tag = state.add_tag("vip")
    ids = [state.add_contact(email=f"v{n}@example.com", tags=[tag.id]).id for n in range(200)]
    _, plan = refused(
        SyncContactTagOperator,
        match=r"remove the tag from 150 members, more than max_removals=100",
        tag_name="vip",
        contact_ids=ids[:50],
        max_removal_ratio=1.0,
    )
    assert writes(intercom_sandbox) == []
    assert plan["plan"] == {"add": 0, "remove": 150}
    assert len(carrying(intercom_sandbox, "vip")) == 200


def test_guard_refuses_a_removal_ratio(intercom_sandbox, members):
    refused(
        SyncContactTagOperator,
        match=r"2 of 3 members \(67%\), more than max_removal_ratio=0.2",
        tag_name="churn-risk",
        contact_ids=[members[0]],
    )
    assert writes(intercom_sandbox) == []


def test_guard_refuses_an_empty_desired_set(intercom_sandbox, members):
    _, plan = refused(
        SyncContactTagOperator,
        match="desired set is empty.*allow_empty=True",
        tag_name="churn-risk",
        contact_ids=[],
    )
    assert writes(intercom_sandbox) == []
    assert plan["plan"] == {"add": 0, "remove": 3}
    report, _ = run(
        SyncContactTagOperator, tag_name="churn-risk", contact_ids=[], allow_empty=True, max_removal_ratio=1.0
    )
    assert report["removed"] == members[:3]
    assert carrying(intercom_sandbox, "churn-risk") == set()


def test_missing_tag_is_created_only_when_something_is_added(intercom_sandbox, members):
    report, _ = run(
        SyncContactTagOperator, tag_name="brand-new", emails=["nobody@example.com"], max_failed_ratio=1.0
    )
    assert report["not_found"] == ["nobody@example.com"]
    assert writes(intercom_sandbox) == []  # nothing to add: no POST /tags at all
    report, _ = run(SyncContactTagOperator, tag_name="brand-new", contact_ids=members[:2])
    assert carrying(intercom_sandbox, "brand-new") == set(members[:2])
    assert report["tag"]["id"] == intercom_sandbox.state.find_tag_by_name("brand-new").id


@pytest.mark.parametrize("version", VERSIONS)
def test_company_sync(intercom_sandbox, version):
    state = intercom_sandbox.state
    trial = state.add_tag("trial")
    companies = [
        state.add_company(company_id=f"c{n}", name=f"C{n}", tags=[trial.id] if n < 3 else [])
        for n in range(5)
    ]
    report, _ = run(
        SyncCompanyTagOperator,
        tag_name="trial",
        company_ids=[companies[1].id],
        company_external_ids=["c2", "c3", "c404"],
        api_version=version,
        max_failed_ratio=0.5,
        max_removal_ratio=0.5,
    )
    on_trial = {company.company_id for company in state.companies.values() if trial.id in company.tags}
    assert on_trial == {"c1", "c2", "c3"}
    assert report["added"] == ["c3"]
    assert report["removed"] == [companies[0].id]
    assert report["unchanged"] == 2
    assert report["not_found"] == ["c404"]
    assert_accounted(report)
    intercom_sandbox.state.clear_request_log()
    run(
        SyncCompanyTagOperator,
        tag_name="trial",
        company_ids=[companies[1].id],
        company_external_ids=["c2", "c3"],
        api_version=version,
    )
    assert writes(intercom_sandbox) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_company_plan_of_30_adds_and_30_removes_takes_two_valid_calls(intercom_sandbox, version):
    state = intercom_sandbox.state
    tag = state.add_tag("enterprise")
    members = [
        state.add_company(company_id=f"m{n}", name=f"M{n}", tags=[tag.id]).company_id for n in range(30)
    ]
    newcomers = [state.add_company(company_id=f"n{n}", name=f"N{n}").company_id for n in range(30)]
    report, _ = run(
        SyncCompanyTagOperator,
        tag_name="enterprise",
        company_external_ids=newcomers,
        api_version=version,
        max_removals=30,
        max_removal_ratio=1.0,
    )
    assert (len(report["added"]), len(report["removed"])) == (30, 30)
    calls = [
        entry for entry in intercom_sandbox.requests if entry["method"] == "POST" and entry["path"] == "/tags"
    ]
    assert len(calls) == 2
    added, removed = calls[0]["body"], calls[1]["body"]
    assert all("untag" not in item for item in added["companies"])
    assert all(item["untag"] is True for item in removed["companies"])
    spec_dir = os.environ.get("INTERCOM_OPENAPI_DIR")
    if spec_dir and (Path(spec_dir) / f"{version}.yaml").exists():
        validate_against_spec(Path(spec_dir) / f"{version}.yaml", added, "tag_company_request")
        validate_against_spec(Path(spec_dir) / f"{version}.yaml", removed, "untag_company_request")
    assert {c.company_id for c in state.companies.values() if tag.id in c.tags} == set(newcomers)
    del members


def validate_against_spec(spec_path: Path, body: dict[str, Any], schema_name: str) -> None:
    """Check a request body against one of the spec's named schemas (the spec's oneOf variants)."""
    import jsonschema
    import yaml

    spec = yaml.safe_load(spec_path.read_text())
    jsonschema.validate(
        body, {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    )


def test_apply_company_tag_plan_never_mixes(intercom_sandbox):
    state = intercom_sandbox.state
    tag = state.add_tag("trial")
    old = state.add_company(company_id="old", name="Old", tags=[tag.id])
    state.add_company(company_id="new", name="New")
    answers = IntercomHook().apply_company_tag_plan(
        "trial", add=[{"company_id": "new"}], remove=[{"id": old.id}]
    )
    assert len(answers["added"]) == len(answers["removed"]) == 1
    bodies = [entry["body"] for entry in intercom_sandbox.requests if entry["method"] == "POST"]
    assert bodies == [
        {"name": "trial", "companies": [{"company_id": "new"}]},
        {"name": "trial", "companies": [{"id": old.id, "untag": True}]},
    ]


def test_sync_call_count_stays_near_the_floor(intercom_sandbox):
    # 2,000 desired against 2,000 current, 100 to add and 100 to remove (the bench runs 20,000).
    state = intercom_sandbox.state
    tag = state.add_tag("segment")
    current = [state.add_contact(email=f"m{n}@example.com", tags=[tag.id]).id for n in range(2000)]
    newcomers = [state.add_contact(email=f"n{n}@example.com").id for n in range(100)]
    desired = current[100:] + newcomers
    report, _ = run(
        SyncContactTagOperator,
        tag_name="segment",
        contact_ids=desired,
        max_removals=100,
        max_items=5000,
        max_xcom_items=5000,
    )
    assert (len(report["added"]), len(report["removed"]), report["unchanged"]) == (100, 100, 1900)
    floor = -(-2000 // 150) + 100 // 50 + 100  # search pages of members + bulk tag calls + one untag each
    calls = len(intercom_sandbox.requests)
    assert calls <= 1.1 * floor, (calls, floor)
    assert carrying(intercom_sandbox, "segment") == set(desired)


def test_sync_operators_accept_their_arguments_in_partial():
    import pendulum
    from airflow.providers.common.compat.sdk import DAG

    with DAG("partial_sync", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        SyncContactTagOperator.partial(task_id="contacts", tag_name="t", max_removals=5, batch_size=3).expand(
            contact_ids=[["a"], ["b"]]
        )
        SyncCompanyTagOperator.partial(
            task_id="companies", tag_name="t", allow_empty=True, batch_size=10
        ).expand(company_ids=[["c"]])
    operator = SyncCompanyTagOperator(task_id="one", tag_name="t", max_removals=3, batch_size=10)
    assert (operator.max_removals, operator.batch_size, operator.allow_empty) == (3, 10, False)
