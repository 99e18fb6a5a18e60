"""
The fixtures of the sandbox's own tests: a seeded sandbox and a client for it.

A test module loads them with ``pytest_plugins = ["tests.sandbox_fixtures"]``, so pytest finds them
without an import that the fixture arguments would shadow.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import SEED, TOKEN, Api


@pytest.fixture
def sandbox() -> Iterator[IntercomSandbox]:
    with IntercomSandbox(token=TOKEN, seed=SEED) as running:
        yield running


@pytest.fixture
def api(sandbox: IntercomSandbox) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.session.close()
