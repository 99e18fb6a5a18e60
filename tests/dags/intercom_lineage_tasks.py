"""
Every writing operator once, for the lineage test: it runs them with ``airflow dags test`` and reads the
OpenLineage events the client's file transport wrote. The test provides the SQLite warehouse
(connection ``lineage_warehouse``) and the ids file (``LINEAGE_IDS_FILE``); the sandbox holds the demo seed.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_intercom.operators.sync import ApplyTagPlanOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import (
    CreateTagOperator,
    DeleteTagOperator,
    TagContactsOperator,
    UntagCompaniesOperator,
    UntagContactsOperator,
)

TAG = "lineage-tag"
WAREHOUSE = "lineage_warehouse"

with DAG(
    "intercom_lineage_tasks", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False
):
    create = CreateTagOperator(task_id="create_tag", tag_name=TAG)
    tag = TagContactsOperator(
        task_id="tag_from_sql",
        tag_name=TAG,
        sql="SELECT email FROM churn",
        sql_conn_id=WAREHOUSE,
        max_failed_ratio=0.5,  # one email matches no contact
    )
    untag = UntagContactsOperator(
        task_id="untag_from_file", tag_name=TAG, ids_file=os.environ.get("LINEAGE_IDS_FILE", "/nonexistent")
    )
    sync = SyncContactTagOperator(
        task_id="sync_from_sql",
        tag_name=TAG,
        sql="SELECT email FROM vip",
        sql_conn_id=WAREHOUSE,
        max_removal_ratio=1.0,
    )
    plan = SyncContactTagOperator(
        task_id="plan_from_sql",
        tag_name=TAG,
        sql="SELECT email FROM churn",
        sql_conn_id=WAREHOUSE,
        plan_only=True,
        max_failed_ratio=0.5,
    )
    apply = ApplyTagPlanOperator(task_id="apply_plan", plan=plan.output, max_failed_ratio=0.5)
    untag_companies = UntagCompaniesOperator(
        task_id="untag_companies", tag_name="trial", company_external_ids=["initech"]
    )
    delete = DeleteTagOperator(task_id="delete_tag", tag_name=TAG)
    create >> tag >> untag >> sync >> plan >> apply >> untag_companies >> delete
