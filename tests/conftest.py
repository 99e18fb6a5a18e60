"""
Test set-up shared by every module.

Airflow reads its configuration at import time, so the environment is set here, before any test
module imports it: a throwaway AIRFLOW_HOME, no example DAGs, and unit-test mode.
"""

from __future__ import annotations

import os
import tempfile

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="intercom-provider-tests-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# dag.test() needs the DAG files inside the configured DAGs folder.
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.path.dirname(__file__), "dags")


def pytest_configure(config):
    # Deprecated Airflow APIs fail the tests, as in Airflow's own provider suites.
    config.addinivalue_line("filterwarnings", "error::airflow.exceptions.AirflowProviderDeprecationWarning")
