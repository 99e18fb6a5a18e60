"""
CRM hygiene after a warehouse export: the provider's main job, as a DAG author writes it.

Three DAGs:

* ``intercom_warehouse_export`` writes a small warehouse extract into a database, through the
  common-sql hook of the connection ``crm_warehouse``: the emails the churn model flags, the
  ``company_id`` of trials that converted, and the VIP segment. It then updates an Asset.
* ``intercom_crm_hygiene``, scheduled on that Asset, reads the extract itself with ``sql=`` (no
  rows through XCom): it tags the churn-risk contacts by email, removes "trial" from the converted
  companies, makes "vip" carry exactly the warehouse's VIP segment, lists the tags, and waits
  until "churn-risk" carries every contact it tagged.
* ``intercom_churn_risk_followup`` runs whenever the "churn-risk" tag's contacts changed: the tagging
  task sends an event to that tag's ``intercom://`` Asset through an AssetAlias.

``crm_warehouse`` is any database connection (Postgres, Snowflake, ...); without one, the example
uses a SQLite file under ``$AIRFLOW_HOME/warehouse``.

Run it against a real workspace with ``dry_run`` first: every writing task then plans and reports
but writes nothing (``airflow dags test intercom_crm_hygiene -c '{"dry_run": true}'``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import (
    DAG,
    AirflowSkipException,
    Asset,
    AssetAlias,
    BaseHook,
    Param,
    task,
)

from airflow_provider_intercom.operators.sync import SyncContactTagOperator
from airflow_provider_intercom.operators.tags import (
    ListTagsOperator,
    TagContactsOperator,
    UntagCompaniesOperator,
)
from airflow_provider_intercom.sensors.tags import IntercomTagSensor

# Where the example's "warehouse" lives when no crm_warehouse connection is defined: a SQLite file.
EXPORT_PATH = Path(
    os.environ.get(
        "INTERCOM_EXAMPLE_EXPORT",
        Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "warehouse" / "crm_export.sqlite",
    )
)
CRM_EXPORT = Asset(f"file://{EXPORT_PATH}")
# The "churn-risk" tag's contacts: its intercom://<app id>/tags/<tag id>/contacts Asset gets an event
# through this alias whenever tag_churn_risk changes who carries the tag.
CHURN_RISK_CONTACTS = AssetAlias("intercom-churn-risk-contacts")
WAREHOUSE_CONN_ID = "crm_warehouse"
os.environ.setdefault(
    f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}", json.dumps({"conn_type": "sqlite", "host": str(EXPORT_PATH)})
)

# What the warehouse says today (in a real job: SELECT ... FROM churn_scores / trials).
CHURN_RISK_EMAILS = [
    "alice@example.com",
    "carol@example.com",
    "dave@example.com",
    "grace@example.com",
    "left-last-year@example.com",
]
CONVERTED_TRIAL_COMPANY_IDS = ["initech", "globex"]
VIP_SEGMENT_EMAILS = ["carol@example.com", "erin@example.org"]

START = pendulum.datetime(2026, 1, 1, tz="UTC")


with DAG(
    dag_id="intercom_warehouse_export",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["intercom", "example"],
    doc_md=__doc__,
):

    @task(outlets=[CRM_EXPORT])
    def export_crm_segments() -> dict[str, int]:
        """Write the extract the hygiene DAG reads, through the connection's common-sql hook."""
        EXPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
        warehouse = BaseHook.get_connection(WAREHOUSE_CONN_ID).get_hook()
        tables = {
            "churn_risk": ("email", CHURN_RISK_EMAILS),
            "converted_trials": ("company_id", CONVERTED_TRIAL_COMPANY_IDS),
            "vip_segment": ("email", VIP_SEGMENT_EMAILS),
        }
        for table, (column, values) in tables.items():
            warehouse.run([f"DROP TABLE IF EXISTS {table}", f"CREATE TABLE {table} ({column} TEXT NOT NULL)"])
            warehouse.insert_rows(table, [(value,) for value in values], target_fields=[column])
        return {
            "churn_risk": len(CHURN_RISK_EMAILS),
            "converted_trials": len(CONVERTED_TRIAL_COMPANY_IDS),
            "vip_segment": len(VIP_SEGMENT_EMAILS),
        }

    export_crm_segments()


with DAG(
    dag_id="intercom_crm_hygiene",
    schedule=[CRM_EXPORT],
    start_date=START,
    catchup=False,
    tags=["intercom", "example"],
    params={"dry_run": Param(False, type="boolean", description="Plan and report, but write nothing")},
    # Every writing task reads the warehouse and honours the dry run; Airflow passes each operator
    # only the default arguments it takes.
    default_args={"sql_conn_id": WAREHOUSE_CONN_ID, "dry_run": "{{ params.dry_run }}"},
    render_template_as_native_obj=True,
    doc_md=__doc__,
):

    @task
    def contacts_to_wait_for(report: dict[str, Any]) -> int:
        """Count the contacts the tagging task tagged (an email may stand for a user and a lead)."""
        if report["dry_run"]:
            raise AirflowSkipException("Dry run: nothing was tagged, so there is nothing to wait for")
        by_email = report.get("resolved", {}).get("emails", {})
        return len({cid for item in report["succeeded"] for cid in by_email.get(item, [item])})

    # Each task reads its query itself, streamed; the column's name says which id list it fills.
    tag_churn_risk = TagContactsOperator(
        task_id="tag_churn_risk",
        tag_name="churn-risk",
        sql="SELECT email FROM churn_risk",
        max_failed_ratio=0.25,  # people who left stay in the model for a while
        outlets=[CHURN_RISK_CONTACTS],
    )
    untag_converted_trials = UntagCompaniesOperator(
        task_id="untag_converted_trials",
        tag_name="trial",
        sql="SELECT company_id FROM converted_trials",
    )
    sync_vip_segment = SyncContactTagOperator(
        task_id="sync_vip_segment",
        tag_name="vip",
        sql="SELECT email FROM vip_segment",
        max_removal_ratio=0.5,  # a small segment: one removal is already a large share
    )
    list_tags = ListTagsOperator(task_id="list_tags")
    wait_for_churn_risk = IntercomTagSensor(
        task_id="wait_for_churn_risk",
        tag_name="churn-risk",
        min_tagged_contacts=contacts_to_wait_for(tag_churn_risk.output),
        poke_interval=10,
        timeout=600,
    )
    [tag_churn_risk, untag_converted_trials, sync_vip_segment] >> list_tags >> wait_for_churn_risk


with DAG(
    dag_id="intercom_churn_risk_followup",
    schedule=[CHURN_RISK_CONTACTS],
    start_date=START,
    catchup=False,
    tags=["intercom", "example"],
    doc_md="Runs whenever the churn-risk tag's contacts changed: lists the churn tags.",
):
    ListTagsOperator(task_id="list_churn_tags", name_pattern="churn*")
