"""DAGs that run IntercomTagSensor through ``dag.test()`` in each mode, with a task using its XCom."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_intercom.sensors.tags import IntercomTagSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def sensor_dag(dag_id: str, **sensor_kwargs: Any) -> DAG:
    """Build ``wait`` (the sensor, short intervals) >> ``use_tag`` (reads the sensor's XCom)."""
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, params={"tag": "churn-risk"}) as dag:
        wait = IntercomTagSensor(
            task_id="wait", tag_name="{{ params.tag }}", poke_interval=0.3, **sensor_kwargs
        )

        @task
        def use_tag(tag: dict[str, Any]) -> str:
            return f"{tag['name']}#{tag['id']}"

        use_tag(wait.output)
    return dag


poke_dag = sensor_dag("intercom_sensor_poke", mode="poke", timeout=20)
reschedule_dag = sensor_dag("intercom_sensor_reschedule", mode="reschedule", timeout=20)
deferrable_dag = sensor_dag("intercom_sensor_deferrable", deferrable=True, min_tagged_contacts=2, timeout=20)
poke_timeout_dag = sensor_dag("intercom_sensor_poke_timeout", mode="poke", timeout=1)
deferrable_timeout_dag = sensor_dag("intercom_sensor_deferrable_timeout", deferrable=True, timeout=1)
