"""
The deployment test's sensor DAGs: a deferrable sensor that waits in the triggerer, and the tagging
that ends the wait, triggered by the test once the sensor is deferred.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_intercom.operators.tags import TagContactsOperator
from airflow_provider_intercom.sensors.tags import IntercomTagSensor

LATE_TAG = "arrives-later"
LATE_EMAILS = ["alice@example.com", "bob@example.com", "carol@example.com"]
START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG(dag_id="intercom_deploy_wait", schedule=None, start_date=START, catchup=False, tags=["deploy"]):
    IntercomTagSensor(
        task_id="wait_for_late_tag",
        tag_name=LATE_TAG,
        min_tagged_contacts=len(LATE_EMAILS),
        deferrable=True,
        poke_interval=3,
        timeout=600,
    )

with DAG(dag_id="intercom_deploy_apply", schedule=None, start_date=START, catchup=False, tags=["deploy"]):
    TagContactsOperator(task_id="apply_late_tag", tag_name=LATE_TAG, emails=LATE_EMAILS, pool="intercom")
