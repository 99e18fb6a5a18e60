"""The checks of ``make e2e-deploy`` (see conftest.py): one deployment, one thing checked per test."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from airflow_provider_intercom.sandbox.render import WORKSPACE_ID
from tests.deploy.cluster import WORKERS
from tests.deploy.conftest import BULK_USERS, POOL_SLOTS, RATE_LIMIT, SANDBOX_TOKEN, Deployed, checked
from tests.deploy.dags.intercom_deploy_sensor import LATE_EMAILS, LATE_TAG
from tests.deploy.scenario import BULK, DAGS, HYGIENE, WAIT
from tests.deploy.triggerer_log import blocks_by, slow_steps, trigger_names

pytestmark = pytest.mark.e2e_deploy

MAX_429_SHARE = 0.02
OUR_OPERATORS = {
    "TagContactsOperator",
    "UntagCompaniesOperator",
    "SyncContactTagOperator",
    "ListTagsOperator",
    "IntercomTagSensor",
}


def emails_tagged(deployed: Deployed, tag_name: str) -> list[str]:
    state = deployed.sandbox.state
    tag = state.find_tag_by_name(tag_name)
    assert tag is not None, f"no tag {tag_name!r} in the sandbox"
    return sorted(str(contact.email) for contact in state.live_contacts() if tag.id in contact.tags)


def test_every_run_succeeds(deployed: Deployed) -> None:
    states = {dag_id: [run["state"] for run in runs] for dag_id, runs in deployed.outcome.runs.items()}
    assert set(states) == set(DAGS)
    assert all(runs and set(runs) == {"success"} for runs in states.values()), states
    kinds = Counter(run["run_type"] for runs in deployed.outcome.runs.values() for run in runs)
    # The hygiene DAG and its follow-up were scheduled by their Assets, not triggered.
    assert kinds["asset_triggered"] == 2, kinds
    checked(f"every run succeeded: {sum(kinds.values())} runs of {len(states)} DAGs ({dict(kinds)})")


def test_the_sandbox_ends_as_the_runs_said(deployed: Deployed) -> None:
    state = deployed.sandbox.state
    users = sorted(str(contact.email) for contact in state.live_contacts() if contact.role == "user")
    assert emails_tagged(deployed, "newsletter") == users
    assert emails_tagged(deployed, "churn-risk") == [
        "alice@example.com",
        "carol@example.com",
        "dave@example.com",
        "grace@example.com",  # the lead
        "grace@example.com",  # and the user with the same email
    ]
    assert emails_tagged(deployed, "vip") == ["carol@example.com", "erin@example.org"]
    assert emails_tagged(deployed, LATE_TAG) == sorted(LATE_EMAILS)
    trial = state.find_tag_by_name("trial")
    assert trial is not None
    assert [company.company_id for company in state.companies.values() if trial.id in company.tags] == []
    checked(
        f"the sandbox's end state: all {len(users)} users carry 'newsletter'; churn-risk, vip, trial and "
        f"{LATE_TAG!r} as the DAGs say"
    )


def test_the_mapped_bulk_dag_shares_the_intercom_pool_and_loses_nothing(deployed: Deployed) -> None:
    tagging = [ti for ti in deployed.outcome.task_instances[BULK] if ti["task_id"] == "tag_users"]
    assert len(tagging) >= 8
    assert {ti["pool"] for ti in tagging} == {"intercom"}
    assert {ti["state"] for ti in tagging} == {"success"}
    # The pool's slots were in use together: that is how the tasks came to share the rate limit.
    overlap = _most_at_once(tagging)
    assert 2 <= overlap <= POOL_SLOTS
    reports = deployed.outcome.bulk_reports
    assert len(reports) == len(tagging)
    assert sum(len(report["succeeded"]) for report in reports) >= BULK_USERS
    assert [item for report in reports for item in report["failed"] + report["not_found"]] == []
    tagged = sum(len(report["succeeded"]) for report in reports)
    checked(
        f"the bulk DAG mapped {len(tagging)} tasks in pool 'intercom' ({overlap} at once, {POOL_SLOTS} "
        f"slots); {tagged} ids tagged, 0 failed or lost"
    )


def _most_at_once(task_instances: list[dict[str, Any]]) -> int:
    edges = sorted(
        [(ti["start_date"], 1) for ti in task_instances] + [(ti["end_date"], -1) for ti in task_instances]
    )
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_fewer_than_2_percent_of_calls_are_answered_429(deployed: Deployed) -> None:
    statuses = Counter(entry["status"] for entry in deployed.sandbox.requests)
    calls = sum(statuses.values())
    per_window = Counter(entry["reset_at"] for entry in deployed.sandbox.requests)
    busiest = max(per_window.values())
    # The limit did bind: the work needed several windows, and the busiest was (nearly) spent.
    assert calls > 3 * RATE_LIMIT
    assert busiest >= 0.8 * RATE_LIMIT, per_window
    assert statuses[429] < MAX_429_SHARE * calls, statuses
    checked(
        f"rate limit {RATE_LIMIT} calls per 10 s, shared: {calls} calls, {statuses[429]} answered 429 "
        f"({statuses[429] / calls:.1%}; under {MAX_429_SHARE:.0%}); {len(per_window)} windows, the busiest "
        f"{busiest} calls"
    )


def test_both_workers_ran_intercom_tasks(deployed: Deployed) -> None:
    ours = [
        ti
        for task_instances in deployed.outcome.task_instances.values()
        for ti in task_instances
        if ti["operator"] in OUR_OPERATORS
    ]
    by_worker = Counter(ti["hostname"] for ti in ours)
    assert set(by_worker) == set(WORKERS), by_worker
    checked(f"both Celery workers ran Intercom tasks: {dict(by_worker)}")


def test_the_rest_api_serves_the_intercom_tag_link(deployed: Deployed) -> None:
    churn_risk = deployed.sandbox.state.find_tag_by_name("churn-risk")
    assert churn_risk is not None
    links = deployed.outcome.link
    url = f"https://app.intercom.com/a/apps/{WORKSPACE_ID}/users/segments/all-users?tag_id={churn_risk.id}"
    assert links["extra_links"] == {"Intercom tag": url}
    checked(f"GET .../taskInstances/tag_churn_risk/links of {HYGIENE}: {links['extra_links']}")


def test_the_deferrable_sensor_waits_in_the_triggerer(deployed: Deployed) -> None:
    assert deployed.outcome.sensor_state_when_applied == "deferred"
    trigger_logs = list((deployed.deployment.home / "logs" / f"dag_id={WAIT}").rglob("*.log.trigger.*.log"))
    assert len(trigger_logs) == 1
    text = trigger_logs[0].read_text()
    assert f"No tag '{LATE_TAG}' yet" in text
    assert "Trigger fired event" in text
    checked(f"the deferrable sensor was deferred, then fired in the triggerer once '{LATE_TAG}' was applied")


def test_the_triggerer_event_loop_is_never_blocked_by_our_trigger(deployed: Deployed) -> None:
    log = deployed.deployment.component("triggerer").text()
    assert "Starting the triggerer" in log
    trigger_logs = (deployed.deployment.home / "logs" / f"dag_id={WAIT}").rglob("*.log.trigger.*.log")
    names = [name for path in trigger_logs for name in trigger_names(path)]
    assert names
    blocked = blocks_by(log, names, "IntercomTagTrigger")
    assert blocked == [], "\n".join(blocked)
    others = len(slow_steps(log))
    checked(
        "the triggerer never logged our trigger blocking its event loop (PYTHONASYNCIODEBUG=1 names each "
        f"slow step; {others} slow steps of others' code)"
    )


def test_the_token_is_in_no_log_or_file_of_the_deployment(deployed: Deployed) -> None:
    files = [path for path in deployed.deployment.home.rglob("*") if path.is_file()]
    assert len(files) > 20
    leaks = [str(path) for path in files if SANDBOX_TOKEN.encode() in path.read_bytes()]
    assert leaks == []
    checked(f"the access token is in none of the deployment's {len(files)} files (component and task logs)")
