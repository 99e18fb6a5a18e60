"""
CRM hygiene after a warehouse export: the provider's main job, as a DAG author writes it.

Two DAGs:

* ``intercom_warehouse_export`` writes a small warehouse extract (a SQLite file): the emails the
  churn model flags, the ``company_id`` of trials that converted, and the VIP segment. It then
  updates an Asset.
* ``intercom_crm_hygiene``, scheduled on that Asset, reads the extract, tags the churn-risk
  contacts by email, removes "trial" from the converted companies, makes "vip" carry exactly the
  warehouse's VIP segment, lists the tags, and waits until "churn-risk" carries every contact it
  tagged.

Run it against a real workspace with ``dry_run`` first: every writing task then plans and reports
but writes nothing (``airflow dags test intercom_crm_hygiene -c '{"dry_run": true}'``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, AirflowSkipException, Asset, Param, task

from airflow_provider_intercom.operators.sync import SyncContactTagOperator
from airflow_provider_intercom.operators.tags import (
    ListTagsOperator,
    TagContactsOperator,
    UntagCompaniesOperator,
)
from airflow_provider_intercom.sensors.tags import IntercomTagSensor

# Where the "warehouse" extract lives; a real job would query the warehouse instead.
EXPORT_PATH = Path(
    os.environ.get(
        "INTERCOM_EXAMPLE_EXPORT",
        Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "warehouse" / "crm_export.sqlite",
    )
)
CRM_EXPORT = Asset(f"file://{EXPORT_PATH}")

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
        """Write the extract the hygiene DAG reads; a fresh file each run."""
        EXPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(EXPORT_PATH) as db:
            db.execute("DROP TABLE IF EXISTS churn_risk")
            db.execute("DROP TABLE IF EXISTS converted_trials")
            db.execute("DROP TABLE IF EXISTS vip_segment")
            db.execute("CREATE TABLE churn_risk (email TEXT NOT NULL)")
            db.execute("CREATE TABLE converted_trials (company_id TEXT NOT NULL)")
            db.execute("CREATE TABLE vip_segment (email TEXT NOT NULL)")
            db.executemany("INSERT INTO vip_segment VALUES (?)", [(email,) for email in VIP_SEGMENT_EMAILS])
            db.executemany("INSERT INTO churn_risk VALUES (?)", [(email,) for email in CHURN_RISK_EMAILS])
            db.executemany(
                "INSERT INTO converted_trials VALUES (?)", [(cid,) for cid in CONVERTED_TRIAL_COMPANY_IDS]
            )
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
    render_template_as_native_obj=True,
    doc_md=__doc__,
):

    @task(multiple_outputs=True)
    def read_extract() -> dict[str, Any]:
        """Read the warehouse extract the export DAG wrote."""
        with sqlite3.connect(EXPORT_PATH) as db:
            emails = [row[0] for row in db.execute("SELECT email FROM churn_risk ORDER BY rowid")]
            companies = [
                row[0] for row in db.execute("SELECT company_id FROM converted_trials ORDER BY rowid")
            ]
            # Raw rows, as a SQL operator would push them: the operators read one-column rows as ids.
            vip_rows = db.execute("SELECT email FROM vip_segment ORDER BY rowid").fetchall()
        return {"churn_risk_emails": emails, "converted_company_ids": companies, "vip_rows": vip_rows}

    @task
    def contacts_to_wait_for(report: dict[str, Any]) -> int:
        """Count the contacts the tagging task tagged (an email may stand for a user and a lead)."""
        if report["dry_run"]:
            raise AirflowSkipException("Dry run: nothing was tagged, so there is nothing to wait for")
        by_email = report.get("resolved", {}).get("emails", {})
        return len({cid for item in report["succeeded"] for cid in by_email.get(item, [item])})

    extract = read_extract()
    tag_churn_risk = TagContactsOperator(
        task_id="tag_churn_risk",
        tag_name="churn-risk",
        emails=extract["churn_risk_emails"],
        dry_run="{{ params.dry_run }}",
        max_failed_ratio=0.25,  # people who left stay in the model for a while
    )
    untag_converted_trials = UntagCompaniesOperator(
        task_id="untag_converted_trials",
        tag_name="trial",
        company_external_ids=extract["converted_company_ids"],
        dry_run="{{ params.dry_run }}",
    )
    sync_vip_segment = SyncContactTagOperator(
        task_id="sync_vip_segment",
        tag_name="vip",
        emails=extract["vip_rows"],
        dry_run="{{ params.dry_run }}",
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
