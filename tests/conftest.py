"""
Test set-up shared by every module.

Airflow reads its configuration at import time, so the environment is set here, before any test
module imports it: a throwaway AIRFLOW_HOME, no example DAGs, and unit-test mode.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="intercom-provider-tests-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
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
    """Every test and example DAG, parsed once, with the metadata DB created."""
    from airflow.models import DagBag
    from airflow.utils import db

    db.initdb()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    return bag


def pytest_configure(config):
    # Deprecated Airflow APIs fail the tests, as in Airflow's own provider suites.
    config.addinivalue_line("filterwarnings", "error::airflow.exceptions.AirflowProviderDeprecationWarning")
