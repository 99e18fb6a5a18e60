"""
What the deployment test does, as a user's deployment would: unpause and trigger through the REST API,
then wait for the runs and collect what the checks read (runs, task instances, reports, the link, logs).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.deploy.cluster import AirflowDeployment

POLL_S = 2.0
RUN_TIMEOUT_S = 900.0
EXPORT, HYGIENE = "intercom_warehouse_export", "intercom_crm_hygiene"
FOLLOWUP = "intercom_churn_risk_followup"
BULK, WAIT, APPLY = "intercom_bulk_mapped", "intercom_deploy_wait", "intercom_deploy_apply"
DAGS = (EXPORT, HYGIENE, FOLLOWUP, BULK, WAIT, APPLY)
FINISHED = {"success", "failed"}
T = TypeVar("T")


@dataclass
class Outcome:
    """What the run left: per DAG its runs and their task instances, the bulk reports, the link, timings."""

    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    task_instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bulk_reports: list[dict[str, Any]] = field(default_factory=list)
    sensor_state_when_applied: str = ""
    link: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class Scenario:
    """
    Drive the deployment: every wait is bounded by ``RUN_TIMEOUT_S`` and fails early if a component dies.

    :param deployment: the running deployment.
    :param chunk_size: ids per mapped task of the bulk DAG.
    """

    def __init__(self, deployment: AirflowDeployment, chunk_size: int) -> None:
        self.deployment = deployment
        self.chunk_size = chunk_size
        self.deadline = time.monotonic() + RUN_TIMEOUT_S
        self.outcome = Outcome()
        self._began = time.monotonic()

    def _mark(self, name: str) -> None:
        self.outcome.timings[name] = round(time.monotonic() - self._began, 1)

    def _until(self, probe: Callable[[], T | None]) -> T:
        """Call ``probe`` until it returns a value; fail at the deadline or when a component died."""
        while (found := probe()) is None:
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"the deployment's runs took longer than {RUN_TIMEOUT_S:.0f} s")
            self.deployment.check_alive()
            time.sleep(POLL_S)
        return found

    def run(self) -> Outcome:
        """Trigger everything, wait for every run, and collect the outcome."""
        call = self.deployment.call
        self._wait_until_parsed()
        for dag_id in DAGS:
            call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        export = self._trigger(EXPORT)
        bulk = self._trigger(BULK, {"chunk_size": self.chunk_size})
        wait = self._trigger(WAIT)
        self.outcome.sensor_state_when_applied = self._until_deferred(WAIT, wait, "wait_for_late_tag")
        apply = self._trigger(APPLY)
        for dag_id, run_id in ((EXPORT, export), (BULK, bulk), (WAIT, wait), (APPLY, apply)):
            self._finish(dag_id, run_id)
        # Scheduled by Assets: the export's file, then the churn-risk tag's contacts through the alias.
        for dag_id in (HYGIENE, FOLLOWUP):
            self._finish(dag_id, self._scheduled_run(dag_id))
        self._collect(bulk)
        return self.outcome

    def _wait_until_parsed(self) -> None:
        def parsed() -> bool | None:
            known = {dag["dag_id"] for dag in self.deployment.call("GET", "/api/v2/dags", limit=100)["dags"]}
            return True if known >= set(DAGS) else None

        self._until(parsed)
        self._mark("DAGs parsed")

    def _trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        body = {"logical_date": None, "conf": conf or {}}
        return str(self.deployment.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"])

    def _task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quoted(run_id)}/taskInstances"
        return list(self.deployment.call("GET", path, limit=100)["task_instances"])

    def _until_deferred(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Wait until the sensor waits in the triggerer (or has finished); return the state seen."""

        def waiting_or_done() -> str | None:
            states = {ti["task_id"]: ti["state"] for ti in self._task_instances(dag_id, run_id)}
            return str(states[task_id]) if states.get(task_id) in {"deferred", "success", "failed"} else None

        state = self._until(waiting_or_done)
        self._mark(f"{task_id} {state}")
        return state

    def _finish(self, dag_id: str, run_id: str) -> None:
        def finished() -> str | None:
            state = self.deployment.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted(run_id)}")["state"]
            return str(state) if state in FINISHED else None

        self._mark(f"{dag_id} {self._until(finished)}")

    def _scheduled_run(self, dag_id: str) -> str:
        def first_run() -> str | None:
            runs = self.deployment.call("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
            return str(runs[0]["dag_run_id"]) if runs else None

        return self._until(first_run)

    def _collect(self, bulk_run: str) -> None:
        call, outcome = self.deployment.call, self.outcome
        for dag_id in DAGS:
            outcome.runs[dag_id] = call("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
            outcome.task_instances[dag_id] = [
                ti for run in outcome.runs[dag_id] for ti in self._task_instances(dag_id, run["dag_run_id"])
            ]
        tagging = [ti for ti in outcome.task_instances[BULK] if ti["task_id"] == "tag_users"]
        path = (
            f"/api/v2/dags/{BULK}/dagRuns/{quoted(bulk_run)}/taskInstances/tag_users/xcomEntries/return_value"
        )
        for ti in sorted(tagging, key=lambda ti: ti["map_index"]):
            # The report itself, as JSON, not its string form.
            entry = call("GET", path, map_index=ti["map_index"], deserialize="true", stringify="false")
            outcome.bulk_reports.append(entry["value"])
        hygiene_run = outcome.runs[HYGIENE][0]["dag_run_id"]
        path = f"/api/v2/dags/{HYGIENE}/dagRuns/{quoted(hygiene_run)}/taskInstances/tag_churn_risk/links"
        outcome.link = call("GET", path)
