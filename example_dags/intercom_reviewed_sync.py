"""
Reviewed syncs: plan a tag sync, have a person approve it when a guard trips, then apply exactly that plan.

A sync whose guards trip (it would remove too many members) is refused. Instead of raising
``max_removals`` and running again blind, plan it, read the plan, and apply that plan: the apply
refuses it as stale if anyone changed the tag's members in the meantime.

Three DAGs, on the "vip" tag and the warehouse's VIP segment (``intercom_warehouse_export`` writes it):

* ``intercom_reviewed_sync`` (Airflow 3.1 and later): a plan that passes the guards is applied at once;
  a plan whose guard tripped goes to an ``ApprovalOperator`` with the plan's summary as its body.
  Approve applies it; Reject, or no answer within ``response_timeout`` (which defaults to Reject),
  writes nothing.
* ``intercom_reviewed_sync_plan`` and ``intercom_reviewed_sync_apply``, on any Airflow (2.11 too): the
  first writes the plan to a file and logs its summary; a person reads it, then triggers the second
  with the file's path: ``airflow dags trigger intercom_reviewed_sync_apply -c '{"plan_path": "..."}'``.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.exceptions import AirflowOptionalProviderFeatureException
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_intercom.operators.sync import ApplyTagPlanOperator, SyncContactTagOperator

HOME = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
# Plans go to files (a path or an object-storage URL such as s3://bucket/plans/...), not XCom.
PLANS = Path(os.environ.get("INTERCOM_EXAMPLE_PLANS", HOME / "intercom-plans"))
WAREHOUSE_CONN_ID = "crm_warehouse"  # as in intercom_crm_hygiene: a SQLite file unless defined
os.environ.setdefault(
    f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}",
    json.dumps({"conn_type": "sqlite", "host": str(HOME / "warehouse" / "crm_export.sqlite")}),
)
# What the three DAGs share: run on demand, after the warehouse export.
DAG_ARGS: dict[str, Any] = {
    "schedule": None,
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "tags": ["intercom", "example"],
    "doc_md": __doc__,
}


def plan_vip_sync(plan_file: str) -> SyncContactTagOperator:
    """Plan "vip" against the VIP segment; writes nothing, and a guard that trips is named in the plan."""
    return SyncContactTagOperator(
        task_id="plan_vip_sync",
        tag_name="vip",
        sql="SELECT email FROM vip_segment",
        sql_conn_id=WAREHOUSE_CONN_ID,
        max_removals=2,  # more removals than this needs a person's approval
        plan_only=True,
        plan_path=plan_file,
    )


try:  # Human-in-the-loop operators: Airflow 3.1 and later
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.hitl import ApprovalOperator
except (ImportError, AirflowOptionalProviderFeatureException) as missing:
    logging.getLogger(__name__).info(
        "intercom_reviewed_sync is not defined: it needs Airflow 3.1+ for ApprovalOperator (%s). "
        "Use intercom_reviewed_sync_plan, then intercom_reviewed_sync_apply with the plan's path.",
        missing,
    )
else:
    with DAG(
        dag_id="intercom_reviewed_sync",
        **DAG_ARGS,
    ):
        plan = plan_vip_sync(str(PLANS / "vip-{{ run_id }}.json"))

        @task.branch
        def review_needed(plan: dict[str, Any]) -> str:
            """Ask a person only when a guard tripped; a plan within the guards goes straight on."""
            return "approve_vip_plan" if plan["guard"] else "no_review_needed"

        approve = ApprovalOperator(
            task_id="approve_vip_plan",
            subject="Apply the reviewed sync of the 'vip' tag?",
            body="{{ ti.xcom_pull(task_ids='plan_vip_sync')['summary'] }}",
            defaults="Reject",  # no answer in time: nothing is written
            response_timeout=timedelta(hours=24),
        )
        apply_plan = ApplyTagPlanOperator(
            task_id="apply_vip_plan",
            plan=plan.output,
            trigger_rule="none_failed_min_one_success",  # after the approval, or when none was needed
        )
        review_needed(plan.output) >> [approve, EmptyOperator(task_id="no_review_needed")] >> apply_plan


with DAG(
    dag_id="intercom_reviewed_sync_plan",
    **DAG_ARGS,
):
    plan_vip_sync(str(PLANS / "vip-{{ run_id }}.json"))


with DAG(
    dag_id="intercom_reviewed_sync_apply",
    params={"plan_path": Param("", type="string", description="The plan file a plan run wrote")},
    **DAG_ARGS,
):
    ApplyTagPlanOperator(task_id="apply_vip_plan", plan_path="{{ params.plan_path }}")
