"""The example DAGs: they import cleanly and run end to end against the seeded sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflow_runs import xcoms
from tests.test_dag_runs import DEMO_SEED

EXAMPLE_DAGS = Path(__file__).parents[1] / "example_dags"
WRITES = {"POST", "PUT", "DELETE"}


@pytest.fixture
def seeded_sandbox(intercom_sandbox):
    intercom_sandbox.state.load_seed(DEMO_SEED)
    return intercom_sandbox


def hitl_available() -> bool:
    """Whether this Airflow has the human-in-the-loop operators (3.1 and later)."""
    try:
        from airflow.providers.standard.operators.hitl import ApprovalOperator  # noqa: F401
    except Exception:
        return False
    return True


def test_example_dags_import_without_errors(dag_bag):
    # dag_bag: the metadata DB, which Airflow 2.11 reads to parse a DAG scheduled on a DatasetAlias
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    # Where Airflow has no ApprovalOperator, the approval example is left out (with a log line), not broken.
    approval = {"intercom_reviewed_sync"} if hitl_available() else set()
    assert set(bag.dag_ids) == {
        "intercom_warehouse_export",
        "intercom_crm_hygiene",
        "intercom_bulk_mapped",
        "intercom_churn_risk_followup",
        "intercom_reviewed_sync_plan",
        "intercom_reviewed_sync_apply",
        *approval,
    }


# Run in a fresh interpreter: a module imported earlier in the session would not warn again.
IMPORT_RECORDING_WARNINGS = """
import runpy, sys, warnings
import airflow  # what Airflow warns about on its own import is not the DAG file's doing

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    runpy.run_path(sys.argv[1])
for warning in caught:
    print(f"recorded {warning.category.__name__}: {warning.message} ({warning.filename}:{warning.lineno})")
"""


@pytest.mark.parametrize("path", sorted(EXAMPLE_DAGS.glob("*.py")), ids=lambda path: path.name)
def test_example_dag_imports_without_warnings(dag_bag, path):
    # The environment holds conftest's timer-unit setting: without it Airflow 2.11 warns on its own.
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_RECORDING_WARNINGS, str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Airflow 3 logs to stdout too (e.g. "Unit test configuration loaded"): keep only the warnings.
    assert [line for line in result.stdout.splitlines() if line.startswith("recorded ")] == []


def contacts_with(sandbox, tag_name: str) -> set[str]:
    tag = sandbox.state.find_tag_by_name(tag_name)
    return {contact.id for contact in sandbox.state.live_contacts() if tag and tag.id in contact.tags}


def test_crm_hygiene_end_to_end(dag_bag, seeded_sandbox):
    export_run = dag_bag.get_dag("intercom_warehouse_export").test()
    assert export_run.state == "success"
    run = dag_bag.get_dag("intercom_crm_hygiene").test()
    assert run.state == "success"

    state = seeded_sandbox.state
    emails = {contact.id: contact.email for contact in state.live_contacts()}
    tagged = contacts_with(seeded_sandbox, "churn-risk")
    assert sorted(emails[contact_id] for contact_id in tagged) == [
        "alice@example.com",
        "carol@example.com",
        "dave@example.com",
        "grace@example.com",  # the lead
        "grace@example.com",  # and the user with the same email
    ]
    trial = state.find_tag_by_name("trial")
    assert {company.company_id for company in state.companies.values() if trial.id in company.tags} == set()

    values = xcoms(run.run_id)
    report = values[("tag_churn_risk", -1)]
    assert report["not_found"] == ["left-last-year@example.com"]
    assert report["resolved"]["ambiguous"]["emails"] == ["grace@example.com"]
    assert values[("untag_converted_trials", -1)]["succeeded"] == ["initech", "globex"]
    assert values[("wait_for_churn_risk", -1)]["tagged_contacts"] == 5
    # The VIP segment: carol stays, erin is added, bob (tagged in Intercom, not in the segment) goes.
    assert sorted(emails[contact_id] for contact_id in contacts_with(seeded_sandbox, "vip")) == [
        "carol@example.com",
        "erin@example.org",
    ]
    synced = values[("sync_vip_segment", -1)]
    assert (synced["added"], synced["unchanged"], synced["plan"]) == (
        ["erin@example.org"],
        1,
        {"add": 1, "remove": 1},
    )


def test_crm_hygiene_dry_run_writes_nothing(dag_bag, seeded_sandbox):
    assert dag_bag.get_dag("intercom_warehouse_export").test().state == "success"
    run = dag_bag.get_dag("intercom_crm_hygiene").test(run_conf={"dry_run": True})
    assert run.state == "success"
    writes = [entry for entry in seeded_sandbox.requests if entry["method"] in WRITES]
    assert [entry["path"] for entry in writes] == ["/contacts/search"] * len(writes)  # reads only
    assert contacts_with(seeded_sandbox, "churn-risk") == set()
    plan = xcoms(run.run_id)[("tag_churn_risk", -1)]
    assert plan["dry_run"] is True
    assert plan["tag"] == {"type": "tag", "id": None, "name": "churn-risk"}
    assert len(plan["succeeded"]) == 4


def test_bulk_mapped_tags_every_user(dag_bag, seeded_sandbox):
    state = seeded_sandbox.state
    for n in range(1100):
        state.add_contact(email=f"bulk{n}@example.com", role="user")
    users = {contact.id for contact in state.live_contacts() if contact.role == "user"}
    run = dag_bag.get_dag("intercom_bulk_mapped").test()
    assert run.state == "success"
    assert contacts_with(seeded_sandbox, "newsletter") == users
    reports = {key: value for key, value in xcoms(run.run_id).items() if key[0] == "tag_users"}
    assert sorted(index for _, index in reports) == [0, 1, 2]  # 1,106 users in chunks of 500
    assert sum(report["requested"] for report in reports.values()) == len(users)


# -- reviewed syncs ---------------------------------------------------------------------------------------


@pytest.mark.skipif(hitl_available(), reason="this Airflow has the human-in-the-loop operators")
def test_without_hitl_operators_the_approval_example_says_why_it_is_left_out(caplog):
    import logging
    import runpy

    with caplog.at_level(logging.INFO):
        dags = runpy.run_path(str(EXAMPLE_DAGS / "intercom_reviewed_sync.py"))
    assert "intercom_reviewed_sync is not defined: it needs Airflow 3.1+" in caplog.text
    assert "ApprovalOperator" not in dags


def vip_emails(sandbox) -> list[str]:
    emails = {contact.id: contact.email for contact in sandbox.state.live_contacts()}
    return sorted(emails[contact_id] for contact_id in contacts_with(sandbox, "vip"))


def test_reviewed_sync_plan_then_a_triggered_apply_on_any_airflow(dag_bag, seeded_sandbox):
    """The 2.11 way: a plan run writes the plan file; a person triggers the apply DAG with its path."""
    assert dag_bag.get_dag("intercom_warehouse_export").test().state == "success"
    planned = dag_bag.get_dag("intercom_reviewed_sync_plan").test()
    assert planned.state == "success"
    plan = xcoms(planned.run_id)[("plan_vip_sync", -1)]
    # bob leaves a 2-member tag: 50% of its members, more than the default max_removal_ratio
    assert "max_removal_ratio=0.2" in plan["guard"]
    assert (plan["counts"]["add"], plan["counts"]["remove"]) == (1, 1)
    assert Path(plan["plan_path"]).is_file()
    assert not [entry for entry in seeded_sandbox.requests if entry["method"] in {"PUT", "DELETE"}]
    assert vip_emails(seeded_sandbox) == ["bob@example.com", "carol@example.com"]

    applied = dag_bag.get_dag("intercom_reviewed_sync_apply").test(run_conf={"plan_path": plan["plan_path"]})
    assert applied.state == "success"
    assert vip_emails(seeded_sandbox) == ["carol@example.com", "erin@example.org"]
    report = xcoms(applied.run_id)[("apply_vip_plan", -1)]
    assert report["applied"]["checksum"] == plan["checksum"]


@pytest.mark.skipif(not hitl_available(), reason="human-in-the-loop operators need Airflow 3.1+")
def test_reviewed_sync_within_the_guards_is_applied_without_asking(dag_bag, seeded_sandbox):
    state = seeded_sandbox.state
    bob = next(contact for contact in state.live_contacts() if contact.email == "bob@example.com")
    del bob.tags[state.find_tag_by_name("vip").id]  # nothing to remove: no guard trips
    assert dag_bag.get_dag("intercom_warehouse_export").test().state == "success"
    run = dag_bag.get_dag("intercom_reviewed_sync").test()
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert (states["approve_vip_plan"], states["no_review_needed"], states["apply_vip_plan"]) == (
        "skipped",
        "success",
        "success",
    )
    assert vip_emails(seeded_sandbox) == ["carol@example.com", "erin@example.org"]


# -- lineage: the churn-risk Asset -------------------------------------------------------------------------


def asset_events_and_queue(after: int = 0) -> tuple[list[tuple[int, str, dict]], set[str]]:
    """Return the events (id, URI, extra) on intercom:// Assets after the given id, and the DAGs queued."""
    from airflow.utils.session import create_session

    try:
        from airflow.models.asset import AssetDagRunQueue as Queue, AssetEvent as Event, AssetModel as Model
    except ImportError:  # Airflow 2: Datasets
        from airflow.models.dataset import (
            DatasetDagRunQueue as Queue,
            DatasetEvent as Event,
            DatasetModel as Model,
        )
    with create_session() as session:
        key = "asset_id" if hasattr(Event, "asset_id") else "dataset_id"
        rows = session.query(Event, Model).filter(getattr(Event, key) == Model.id).all()
        events = [
            (event.id, model.uri, dict(event.extra or {}))
            for event, model in rows
            if model.uri.startswith("intercom://") and event.id > after
        ]
        queued = {row.target_dag_id for row in session.query(Queue).all()}
    return events, queued


def test_tagging_churn_risk_sends_an_asset_event_that_schedules_the_followup(dag_bag, seeded_sandbox):
    before = max([event_id for event_id, _, _ in asset_events_and_queue()[0]], default=0)
    assert dag_bag.get_dag("intercom_warehouse_export").test().state == "success"
    # dry_run said outright: a dag.test(run_conf=...) earlier in the session may leave it in the DAG's params
    run = dag_bag.get_dag("intercom_crm_hygiene").test(run_conf={"dry_run": False})
    assert run.state == "success"
    events, queued = asset_events_and_queue(after=before)
    tag = seeded_sandbox.state.find_tag_by_name("churn-risk")
    churn = [(uri, extra) for _, uri, extra in events if uri == f"intercom://sandbox1/tags/{tag.id}/contacts"]
    assert len(churn) == 1, events
    assert churn[0][1] == {
        "added": 4,  # the emails now carried: alice, carol, dave and grace (a user and a lead)
        "removed": 0,
        "not_found": 1,
        "failed": 0,
        "tag_id": tag.id,
        "api_version": "2.11",
    }
    assert "intercom_churn_risk_followup" in queued
    # Asset extras are stored in clear: no email and no contact id of this run in any of them.
    stored = json.dumps([extra for _, _, extra in events])
    secrets = [contact.email for contact in seeded_sandbox.state.live_contacts() if contact.email]
    secrets += [contact.id for contact in seeded_sandbox.state.live_contacts()]
    assert [value for value in secrets if value in stored] == []
