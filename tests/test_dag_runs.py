"""The operators inside real DAG runs (``dag.test()``, SQLite metadata DB) against the seeded sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.airflow_runs import xcoms

DEMO_SEED = Path(__file__).parents[1] / "airflow_provider_intercom" / "sandbox" / "demo_seed.json"


@pytest.fixture
def seeded_sandbox(intercom_sandbox):
    intercom_sandbox.state.load_seed(DEMO_SEED)
    return intercom_sandbox


def test_tag_tasks_run_end_to_end(dag_bag, seeded_sandbox):
    dag_run = dag_bag.get_dag("intercom_tag_tasks").test()
    assert dag_run.state == "success"
    values = xcoms(dag_run.run_id)
    state = seeded_sandbox.state
    churn = state.find_tag_by_name("churn-risk")

    report = values[("tag_churn_risk", -1)]
    assert report["tag"] == {"type": "tag", "id": churn.id, "name": "churn-risk"}  # rendered from params
    assert report["requested"] == 4
    assert report["succeeded"] == [
        "65a000000000000000000001",
        "65a000000000000000000002",
        "carol@example.com",
    ]
    assert report["not_found"] == ["ghost-contact"]
    assert churn.id in state.contacts["65a000000000000000000003"].tags

    mapped = state.find_tag_by_name("mapped")
    chunk_reports = [values[("tag_in_chunks", index)] for index in (0, 1)]
    assert [chunk["succeeded"] for chunk in chunk_reports] == [
        ["65a000000000000000000001", "65a000000000000000000002"],
        ["65a000000000000000000003"],
    ]
    assert all(mapped.id in state.contacts[f"65a00000000000000000000{n}"].tags for n in (1, 2, 3))

    untag = values[("untag_trial", -1)]
    assert untag["succeeded"] == ["initech", "acme"]
    trial = state.find_tag_by_name("trial")
    assert trial.id not in state.companies["65b000000000000000000003"].tags

    assert [tag["name"] for tag in values[("list_churn_tags", -1)]] == ["churn-risk"]


def test_partial_failure_fails_the_task_but_keeps_the_report(dag_bag, seeded_sandbox):
    dag_run = dag_bag.get_dag("intercom_tag_fails").test()
    assert dag_run.state == "failed"
    report = xcoms(dag_run.run_id)[("tag_strict", -1)]
    assert report["succeeded"] == ["65a000000000000000000001"]
    assert report["not_found"] == ["ghost-contact"]
