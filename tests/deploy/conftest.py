"""
``make e2e-deploy``: the example DAGs on a distributed Airflow 3 (CeleryExecutor, PostgreSQL, Redis, two
workers), against one sandbox whose rate limit the mapped tasks must share.

The whole deployment runs once per session (the ``deployed`` fixture); each test checks one thing it left.
The terminal summary prints what was checked and how long each part took.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.deploy.cluster import REPO, AirflowDeployment
from tests.deploy.scenario import Outcome, Scenario
from tests.deploy.services import running_redis

DEMO_SEED = REPO / "airflow_provider_intercom" / "sandbox" / "demo_seed.json"
SANDBOX_TOKEN = "deploy-sandbox-token"
# The bulk DAG tags every user: this many more than the demo's, in chunks of CHUNK_SIZE (>= 8 tasks).
BULK_USERS = 4000
CHUNK_SIZE = 400
# Calls per 10-second window: low enough that the mapped tasks must share it.
RATE_LIMIT = int(os.environ.get("DEPLOY_RATE_LIMIT", "40"))
POOL_SLOTS = 4
DAG_FILES = [
    *sorted((REPO / "example_dags").glob("*.py")),
    *sorted((Path(__file__).parent / "dags").glob("*.py")),
]


@dataclass
class Deployed:
    """The finished deployment: what the scenario collected, the sandbox (still up) and every log."""

    outcome: Outcome
    sandbox: IntercomSandbox
    deployment: AirflowDeployment


_checked: list[str] = []
_timings: dict[str, float] = {}


def checked(line: str) -> None:
    """Record one check that passed, for the terminal summary."""
    _checked.append(line)


@pytest.fixture(scope="session")
def deployed() -> Iterator[Deployed]:
    """Start the services and Airflow, run the scenario, stop Airflow; the sandbox stays up for the checks."""
    # Imported here, not at collection: other modules load it as a pytest plugin, asserts rewritten.
    from tests.postgres_server import running_postgres

    seconds: dict[str, float] = {}
    began = time.monotonic()
    home = Path(os.environ["AIRFLOW_HOME"]) / "deploy"  # under the suite's home: its token check reads it
    home.mkdir()
    with (
        running_postgres() as postgres,
        running_redis() as broker,
        IntercomSandbox(token=SANDBOX_TOKEN, seed=str(DEMO_SEED), rate_limit=RATE_LIMIT) as sandbox,
    ):
        for n in range(BULK_USERS):
            sandbox.state.add_contact(email=f"bulk{n}@example.com", role="user")
        connection = json.dumps(sandbox.airflow_connection())
        deployment = AirflowDeployment(
            home, postgres.uri, broker, extra_env={"AIRFLOW_CONN_INTERCOM_DEFAULT": connection}
        )
        deployment.link_dags(*DAG_FILES)
        deployment.airflow("db", "migrate")
        deployment.airflow("pools", "set", "intercom", str(POOL_SLOTS), "Intercom workspace budget")
        seconds["services, db migrate"] = round(time.monotonic() - began, 1)
        try:
            deployment.start_all()
            seconds["components up"] = round(time.monotonic() - began, 1)
            outcome = Scenario(deployment, CHUNK_SIZE).run()
            seconds["every run finished"] = round(time.monotonic() - began, 1)
        finally:
            deployment.stop_all()
        seconds["stopped"] = round(time.monotonic() - began, 1)
        # For a failure's post-mortem: when each call came and how it was answered (no bodies).
        fields = ("time", "method", "path", "status", "reset_at")
        calls = [{key: entry[key] for key in fields} for entry in sandbox.requests]
        (home / "sandbox-calls.json").write_text(json.dumps(calls))
        _timings.update(seconds, **{f"scenario: {name}": value for name, value in outcome.timings.items()})
        yield Deployed(outcome, sandbox, deployment)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the deployment test checked and how long its parts took."""
    if not _checked:
        return
    terminalreporter.section("e2e-deploy: what was checked")
    for line in _checked:
        terminalreporter.write_line(f"- {line}")
    terminalreporter.write_line("Seconds from the start, when each part was done:")
    for name, value in _timings.items():
        terminalreporter.write_line(f"  {value:7.1f}  {name}")
