"""A sync whose id list is templated from an XCom that was never pushed: it renders as "None"."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_intercom.operators.sync import SyncContactTagOperator

with DAG(
    "intercom_sync_missing_xcom",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):

    @task
    def export() -> None:
        """Pushes nothing under the key the sync pulls: the export 'forgot' its ids."""

    SyncContactTagOperator(
        task_id="sync_big",
        tag_name="big",
        contact_ids="{{ ti.xcom_pull(task_ids='export', key='ids') }}",
        max_removal_ratio=1.0,
        max_removals=1000,
    ).set_upstream(export())
