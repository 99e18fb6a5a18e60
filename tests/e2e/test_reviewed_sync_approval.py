"""
The approval example end to end on Airflow 3.3: a plan whose guard tripped waits for a person, who answers
through Airflow's REST API (as the Required Actions page does); Approve applies the plan, Reject writes
nothing. ``airflow dags test`` runs the DAG and leaves the approval task waiting for input; an API server on
the same metadata database takes the answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.e2e.conftest import USERNAME, AirflowServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DEMO_SEED = REPO / "airflow_provider_intercom" / "sandbox" / "demo_seed.json"
DAG_ID = "intercom_reviewed_sync"
APPROVAL_TASK = "approve_vip_plan"
RUN_TIMEOUT_S = 240.0


def is_write(entry: dict[str, Any]) -> bool:
    """A request that changes something: tagging (POST /tags), untagging, creating or updating."""
    return entry["method"] in {"PUT", "DELETE"} or (entry["method"], entry["path"]) == ("POST", "/tags")


def call(server: AirflowServer, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    """Call the API server and return its JSON answer."""
    request = urllib.request.Request(
        f"{server.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def wait_for_approval_task(server: AirflowServer, token: str, process: subprocess.Popen[str]) -> str:
    """Poll (bounded) until the DAG run's approval task awaits input; return the run's id."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"airflow dags test ended before the approval ({process.returncode}):\n{process.stdout}"
            )
        runs = call(server, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns?state=running", token)["dag_runs"]
        for run in runs:
            task = call(
                server,
                "GET",
                f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/{APPROVAL_TASK}",
                token,
            )
            if task["state"] == "awaiting_input":
                return str(run["dag_run_id"])
        time.sleep(1)
    pytest.fail(f"{APPROVAL_TASK} did not await input within {RUN_TIMEOUT_S:.0f} s")


def vip_emails(sandbox: IntercomSandbox) -> list[str]:
    state = sandbox.state
    vip = state.find_tag_by_name("vip")
    return sorted(str(contact.email) for contact in state.live_contacts() if vip.id in contact.tags)


@pytest.mark.parametrize("answer", ["Approve", "Reject"])
def test_a_tripped_guard_waits_for_a_person_then_applies_or_writes_nothing(
    airflow_env: dict[str, str],
    airflow_server: AirflowServer,
    admin_password: str,
    tmp_path: Path,
    answer: str,
) -> None:
    with IntercomSandbox(port=0, token="e2e-approval-token", seed=str(DEMO_SEED)) as sandbox:
        env = {
            **airflow_env,
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW_CONN_INTERCOM_DEFAULT": json.dumps(sandbox.airflow_connection()),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        airflow = [sys.executable, "-m", "airflow", "dags", "test"]
        export = subprocess.run(
            [*airflow, "intercom_warehouse_export"],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        assert export.returncode == 0, export.stdout[-3000:] + export.stderr[-3000:]
        sandbox.state.clear_request_log()

        log = tmp_path / "dags-test.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [*airflow, DAG_ID], env=env, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        try:
            token = call(
                airflow_server, "POST", "/auth/token", body={"username": USERNAME, "password": admin_password}
            )["access_token"]
            run_id = wait_for_approval_task(airflow_server, token, process)
            detail_path = (
                f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{APPROVAL_TASK}/-1/hitlDetails"
            )
            detail = call(airflow_server, "GET", detail_path, token)
            # The person sees the plan's summary: what would be removed and why a guard stopped it.
            assert "**remove 1**, add 1" in detail["body"]
            assert "max_removal_ratio=0.2" in detail["body"]
            assert vip_emails(sandbox) == ["bob@example.com", "carol@example.com"]  # nothing written yet
            call(
                airflow_server, "PATCH", detail_path, token, {"chosen_options": [answer], "params_input": {}}
            )
            process.wait(timeout=RUN_TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        tasks = call(airflow_server, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", token)
        states = {task["task_id"]: task["state"] for task in tasks["task_instances"]}
        writes = [entry for entry in sandbox.requests if is_write(entry)]

    assert states[APPROVAL_TASK] == "success", log.read_text()[-3000:]
    if answer == "Approve":
        assert states["apply_vip_plan"] == "success", log.read_text()[-3000:]
        assert vip_emails(sandbox) == ["carol@example.com", "erin@example.org"]
        assert {entry["method"] for entry in writes} == {"POST", "DELETE"}
    else:
        assert states["apply_vip_plan"] == "skipped", log.read_text()[-3000:]
        assert vip_emails(sandbox) == ["bob@example.com", "carol@example.com"]
        assert writes == []
