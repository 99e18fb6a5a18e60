"""The pytest plugin: what it imports, and the ``intercom_sandbox`` fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import TIMEOUT


def test_plugin_and_sandbox_import_nothing_heavy_nor_the_provider() -> None:
    code = (
        "import json, sys;"
        "import airflow_provider_intercom.sandbox.pytest_plugin, airflow_provider_intercom.sandbox.__main__;"
        "print(json.dumps(sorted(name for name in sys.modules if name.startswith(('airflow', 'requests')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    loaded = [
        name for name in json.loads(result.stdout) if not name.startswith("airflow_provider_intercom.sandbox")
    ]
    assert loaded == ["airflow_provider_intercom"]


def test_fixture_points_the_default_connection_at_the_sandbox(intercom_sandbox: IntercomSandbox) -> None:
    connection = json.loads(os.environ["AIRFLOW_CONN_INTERCOM_DEFAULT"])
    assert connection["conn_type"] == "intercom"
    assert connection["host"] == intercom_sandbox.url
    assert connection["password"] == intercom_sandbox.token
    assert connection["extra"] == {"region": "us", "api_version": "2.11"}
    response = requests.get(
        f"{connection['host']}/tags",
        headers={"Authorization": f"Bearer {connection['password']}"},
        timeout=TIMEOUT,
    )
    assert response.json() == {"type": "list", "data": []}
