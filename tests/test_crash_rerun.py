"""
A task killed mid-run and run again, as Airflow's retry would: the second run finishes the job.

The first run is a separate process running an operator's ``execute`` (an untag of 2,000 contacts, or
the apply of a reviewed plan that removes 1,000); it gets SIGKILL once enough of its DELETEs have
reached the sandbox, so some writes were applied, some were in flight and some never sent. The second
run (in this process) must leave the exact end state and account for every item in its report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intercom.operators.sync import ApplyTagPlanOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import UntagContactsOperator
from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.airflow_runs import RecordingTaskInstance

TAG = "churn-risk"
REQUESTED = 2000
KILL_AFTER_DELETES = 1000
# Importing Airflow in the child takes a few seconds; the untag itself about as long again.
CHILD_DEADLINE_SECONDS = 120
# The first run, as a worker would run it; the report goes to stdout if it ever finishes.
FIRST_RUN = """
import json, sys
from airflow_provider_intercom.operators.sync import ApplyTagPlanOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import UntagContactsOperator

class TaskInstance:
    def xcom_push(self, key, value):
        pass

contact_ids = json.loads(open(sys.argv[1]).read())
operator = UntagContactsOperator(
    task_id="untag", tag_name=sys.argv[2], contact_ids=contact_ids, max_failed_ratio=0.01, max_workers=4
)
print(json.dumps(operator.execute({"ti": TaskInstance()})))
"""
FIRST_APPLY = """
import sys
from airflow_provider_intercom.operators.sync import ApplyTagPlanOperator

class TaskInstance:
    def xcom_push(self, key, value):
        pass

ApplyTagPlanOperator(task_id="apply", plan_path=sys.argv[1], max_workers=4).execute({"ti": TaskInstance()})
"""
PLANNED_REMOVALS = 1000
KILL_APPLY_AFTER_DELETES = 400


def deletes(sandbox: IntercomSandbox) -> int:
    return sum(entry["method"] == "DELETE" for entry in sandbox.requests)


def kill_halfway(
    process: subprocess.Popen[str], sandbox: IntercomSandbox, after: int = KILL_AFTER_DELETES
) -> float:
    """Wait (bounded) until ``after`` DELETEs arrived, then SIGKILL the child; return the seconds waited."""
    started = time.monotonic()
    while deletes(sandbox) < after:
        if process.poll() is not None:
            output, errors = process.communicate()
            pytest.fail(f"the first run ended before it was killed ({process.returncode}): {errors[-2000:]}")
        if time.monotonic() - started > CHILD_DEADLINE_SECONDS:
            process.kill()
            pytest.fail(f"only {deletes(sandbox)} DELETEs in {CHILD_DEADLINE_SECONDS} s")
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return time.monotonic() - started


def run_and_kill(script: str, args: list[str], sandbox: IntercomSandbox, tmp_path: Path, after: int) -> float:
    """Run ``script`` in a child process as a worker would; SIGKILL it after ``after`` DELETEs."""
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_INTERCOM_DEFAULT": json.dumps(sandbox.airflow_connection()),
    }
    first = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        waited = kill_halfway(first, sandbox, after=after)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    return waited


def test_untag_killed_halfway_then_rerun_ends_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A little latency per answer keeps the first run slow enough to be caught halfway; the limit is
    # generous so that neither run waits for a rate-limit window.
    with IntercomSandbox(port=0, token="crash-token", rate_limit=10_000, latency_ms=4) as sandbox:
        state = sandbox.state
        tag = state.add_tag(TAG)
        other = state.add_tag("vip")
        contacts = [
            state.add_contact(email=f"c{n}@example.com", role="user", tags=[tag.id, other.id]).id
            for n in range(REQUESTED + 20)
        ]
        unknown = [f"{n:024x}" for n in range(1, 11)]
        requested = [*contacts[: REQUESTED - len(unknown)], *unknown]
        untouched = contacts[REQUESTED - len(unknown) :]
        ids_file = tmp_path / "contact_ids.json"
        ids_file.write_text(json.dumps(requested))
        connection = json.dumps(sandbox.airflow_connection())
        waited = run_and_kill(FIRST_RUN, [str(ids_file), TAG], sandbox, tmp_path, KILL_AFTER_DELETES)
        sent_before_kill = deletes(sandbox)
        still_tagged = [
            contact_id
            for contact_id in requested[: -len(unknown)]
            if tag.id in state.contacts[contact_id].tags
        ]
        # Killed mid-run: about half done, about half left.
        assert KILL_AFTER_DELETES <= sent_before_kill < REQUESTED
        assert (
            REQUESTED - sent_before_kill - len(unknown) <= len(still_tagged) <= REQUESTED - KILL_AFTER_DELETES
        )

        # The rerun need not be slow.
        sandbox.latency_ms = 0
        monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", connection)
        ti = RecordingTaskInstance()
        context: Any = {"ti": ti}
        rerun_started = time.monotonic()
        report = UntagContactsOperator(
            task_id="untag",
            tag_name=TAG,
            contact_ids=requested,
            max_failed_ratio=0.01,
            max_workers=4,
            max_xcom_items=REQUESTED,  # every item listed: the test accounts for each one
        ).execute(context)
        rerun_seconds = time.monotonic() - rerun_started
        print(
            f"\ncrash/rerun: killed after {waited:.1f} s at {sent_before_kill} DELETEs, "
            f"{len(still_tagged)} still tagged; rerun {rerun_seconds:.1f} s"
        )

    failed = [entry["id"] for entry in report["failed"]]
    assert report["requested"] == REQUESTED
    assert len(report["succeeded"]) + len(report["not_found"]) + len(failed) == REQUESTED
    assert sorted([*report["succeeded"], *report["not_found"], *failed]) == sorted(requested)
    # Contacts untagged by the killed run are untagged again harmlessly, and reported as done.
    assert (failed, sorted(report["not_found"])) == ([], sorted(unknown))
    assert set(report["succeeded"]) == set(requested[: -len(unknown)])
    for contact_id in requested[: -len(unknown)]:
        assert set(state.contacts[contact_id].tags) == {other.id}
    for contact_id in untouched:
        assert set(state.contacts[contact_id].tags) == {tag.id, other.id}


def test_a_plan_apply_killed_halfway_then_rerun_converges_to_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with IntercomSandbox(port=0, token="crash-token", rate_limit=10_000, latency_ms=4) as sandbox:
        state = sandbox.state
        tag = state.add_tag(TAG)
        members = [state.add_contact(role="user", tags=[tag.id]).id for _ in range(PLANNED_REMOVALS + 200)]
        newcomers = [state.add_contact(role="user").id for _ in range(10)]
        connection = json.dumps(sandbox.airflow_connection())
        monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", connection)
        plan_path = tmp_path / "plan.json"
        SyncContactTagOperator(
            task_id="plan",
            tag_name=TAG,
            contact_ids=members[PLANNED_REMOVALS:] + newcomers,
            plan_only=True,
            plan_path=str(plan_path),
            max_removal_ratio=1.0,
            max_removals=PLANNED_REMOVALS,
        ).execute({"ti": RecordingTaskInstance()})
        sandbox.state.clear_request_log()
        run_and_kill(FIRST_APPLY, [str(plan_path)], sandbox, tmp_path, KILL_APPLY_AFTER_DELETES)
        assert KILL_APPLY_AFTER_DELETES <= deletes(sandbox) < PLANNED_REMOVALS

        sandbox.latency_ms = 0
        report = ApplyTagPlanOperator(
            task_id="apply", plan_path=str(plan_path), max_xcom_items=10**4
        ).execute({"ti": RecordingTaskInstance()})
        sent = Counter(entry["path"] for entry in sandbox.requests if entry["method"] == "DELETE")

    carrying = {contact_id for contact_id, contact in state.contacts.items() if tag.id in contact.tags}
    assert carrying == set(members[PLANNED_REMOVALS:] + newcomers)
    assert len(sent) == PLANNED_REMOVALS
    assert max(sent.values()) <= 2  # at most the calls in flight at the kill went twice
    assert sum(sent.values()) <= PLANNED_REMOVALS + 4  # ... and no more of them than the workers
    assert report["applied"]["already_done"]["remove"] >= KILL_APPLY_AFTER_DELETES - 4
    assert (len(report["removed"]), len(report["added"]), report["failed"]) == (PLANNED_REMOVALS, 10, [])
