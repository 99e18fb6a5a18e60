"""
Test set-up shared by every module.

Airflow reads its configuration at import time, so the environment is set here, before any test
module imports it: a throwaway AIRFLOW_HOME, no example DAGs, and unit-test mode.
"""

from __future__ import annotations

import functools
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="intercom-provider-tests-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# Airflow 2.11 warns on any use of its metrics module until this Airflow 3 default is turned on: a
# setting of the installation, which the tests' Airflow (and every interpreter it starts) should have.
# Airflow 3 ignores it.
os.environ["AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY"] = "True"
# Airflow 2's unit-test config sets LocalExecutor, which refuses SQLite, and dag.test() asks for the
# executor; SequentialExecutor is what Airflow 2 itself uses with SQLite. Airflow 3 has no
# SequentialExecutor and runs LocalExecutor on SQLite.
if Version(version("apache-airflow")) < Version("3"):
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"
# dag.test() runs only DAGs inside the configured DAGs folder: link the example DAGs and the
# tests' own DAGs into one throwaway folder.
_REPO = Path(__file__).resolve().parents[1]
_DAGS_FOLDER = Path(os.environ["AIRFLOW_HOME"]) / "dags"
_DAGS_FOLDER.mkdir()
for _dag_file in [*(_REPO / "example_dags").glob("*.py"), *(_REPO / "tests" / "dags").glob("*.py")]:
    (_DAGS_FOLDER / _dag_file.name).symlink_to(_dag_file)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_DAGS_FOLDER)


@pytest.fixture(scope="session")
def dag_bag():
    """Every test and example DAG, parsed once and stored in the metadata DB, as the DAG processor would."""
    from airflow.models import DagBag
    from airflow.utils import db

    db.initdb()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    # Stored, the DAGs' asset aliases exist (Airflow 2.11 needs them to record an event through one) and
    # the scheduler knows which DAG an Asset event queues.
    try:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import sync_bag_to_db
    except ImportError:  # Airflow 2
        bag.sync_to_db()
    else:
        DagBundlesManager().sync_bundles_to_db()
        sync_bag_to_db(bag, "dags-folder", None)
    return bag


def pytest_configure(config):
    # Deprecated Airflow APIs fail the tests, as in Airflow's own provider suites.
    config.addinivalue_line("filterwarnings", "error::airflow.exceptions.AirflowProviderDeprecationWarning")


# -- the token never leaks, over the whole suite -------------------------------------------------------------
# Every access token a test uses (the sandboxes' and the deliberately wrong ones) is looked for in every
# test's captured output and log records, and at the end in everything Airflow wrote under AIRFLOW_HOME:
# task logs, and the metadata DB with its XCom values and rendered template fields.
WRONG_TOKENS = {"wrong-token-123", "another-secret-token", "secret-token-for-tests", "not-the-token"}
_tokens_in_use: set[str] = set(WRONG_TOKENS)
_leaks: list[str] = []


@pytest.fixture(autouse=True)
def _record_sandbox_tokens(monkeypatch):
    from airflow_provider_intercom.sandbox.server import IntercomSandbox

    original_start = IntercomSandbox.start

    @functools.wraps(original_start)
    def start(self):
        _tokens_in_use.add(self.token)
        return original_start(self)

    monkeypatch.setattr(IntercomSandbox, "start", start)


def find_leaks(where: str, text: str, tokens: set[str]) -> list[str]:
    """Name each token that appears in ``text``."""
    return [f"{where}: {token!r}" for token in sorted(tokens) if token in text]


def pytest_runtest_logreport(report):
    for section, content in report.sections:
        _leaks.extend(find_leaks(f"{report.nodeid} ({section})", content, _tokens_in_use))


def pytest_sessionfinish(session, exitstatus):
    for path in Path(os.environ["AIRFLOW_HOME"]).rglob("*"):
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes().decode("utf-8", errors="replace")
            _leaks.extend(find_leaks(str(path), text, _tokens_in_use))
    if _leaks:
        print("\nACCESS TOKEN LEAKED in:\n  " + "\n  ".join(sorted(set(_leaks))))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        print(
            f"\nToken hygiene: none of {len(_tokens_in_use)} access tokens appears in any captured output, "
            "task log, XCom value or rendered template field."
        )
