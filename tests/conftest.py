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
