"""
Pytest plugin (entry point ``pytest11: intercom_sandbox``) providing the ``intercom_sandbox`` fixture.

Pytest loads this module in every session of every project that installs the provider, so it imports
only the standard library and pytest at import time; the sandbox itself is imported when the fixture runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_intercom.sandbox.app import IntercomSandbox

SANDBOX_TOKEN = "sandbox-test-token"
CONNECTION_ENV_VAR = "AIRFLOW_CONN_INTERCOM_DEFAULT"


@pytest.fixture
def intercom_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[IntercomSandbox]:
    """
    Yield a started sandbox with fresh state, and point the ``intercom_default`` connection at it.

    ``AIRFLOW_CONN_INTERCOM_DEFAULT`` is set (for this test only) to a JSON connection whose host is the
    sandbox URL and whose password is its token. Seed data through ``sandbox.state`` or ``load_seed``.

    :param monkeypatch: Pytest's monkeypatch fixture, which undoes the environment change.
    :return: The running sandbox (yielded); stopped after the test.
    """
    from airflow_provider_intercom.sandbox.app import IntercomSandbox

    sandbox = IntercomSandbox(port=0, token=SANDBOX_TOKEN)
    sandbox.start()
    try:
        monkeypatch.setenv(CONNECTION_ENV_VAR, json.dumps(sandbox.airflow_connection()))
        yield sandbox
    finally:
        sandbox.stop()
