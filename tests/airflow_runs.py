"""
Helpers for running tasks in tests: a stand-in task instance, reading a ``dag.test()`` run back, and
whether an Airflow API server answers.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any


def api_server_healthy(url: str) -> bool:
    """
    Return True when the Airflow API server at ``url`` answers its health endpoint with 200.

    :param url: the server's base URL, e.g. ``http://127.0.0.1:8080``.
    """
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def xcoms(run_id: str, key: str = "return_value") -> dict[tuple[str, int], Any]:
    """
    Return every XCom of a run under one key, keyed by ``(task_id, map_index)``.

    :param run_id: the DAG run's id.
    :param key: the XCom key; ``return_value`` holds what each task returned.
    """
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2: the ORM row deserialises its value when loaded
        from airflow.models.xcom import XCom

        with create_session() as session:
            rows = session.query(XCom).filter(XCom.run_id == run_id, XCom.key == key)
            return {(row.task_id, row.map_index): row.value for row in rows}
    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == run_id, XComModel.key == key)
        return {(row.task_id, row.map_index): XComModel.deserialize_value(row) for row in rows}


def airflow_log(capfd, caplog) -> str:
    """
    Return what hooks, tasks and triggers have logged in this test so far, on either Airflow line.

    Airflow 3 sends these logs through structlog to the process output; Airflow 2 through stdlib
    logging, which ``caplog`` records.

    :param capfd: pytest's ``capfd`` fixture.
    :param caplog: pytest's ``caplog`` fixture.
    """
    output = capfd.readouterr()
    return output.out + output.err + caplog.text


class RecordingTaskInstance:
    """Stands in for the task instance in a direct ``execute()`` call, keeping what is pushed."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value
