"""
``make demo``: run the CRM-hygiene example end to end and print what changed.

Runs ``intercom_warehouse_export`` and then ``intercom_crm_hygiene`` with ``airflow dags test`` on
the local SQLite Airflow, then prints a summary built from the tasks' XCom values and from what
Intercom now holds. It talks to whatever ``intercom_default`` points at; ``make demo`` starts the
bundled sandbox and points the connection at it, so the demo never writes to a real workspace.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAGS = ("intercom_warehouse_export", "intercom_crm_hygiene", "intercom_churn_risk_followup")


def airflow(*args: str, log: Path) -> None:
    """Run an airflow command, its output going to ``log``; show the tail and stop if it fails."""
    with log.open("w") as out:
        result = subprocess.run([AIRFLOW, *args], stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        print(f"`airflow {' '.join(args)}` failed; the end of {log}:")
        print("".join(log.read_text().splitlines(keepends=True)[-40:]))
        sys.exit(result.returncode)


def latest_run(dag_id: str) -> tuple[str, dict[str, Any]]:
    """Return the state and the return values (by task id) of the DAG's newest run."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel as XCom  # Airflow 3
    except ImportError:
        from airflow.models.xcom import XCom  # type: ignore[assignment,no-redef]  # Airflow 2

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
        if run is None:
            raise SystemExit(f"{dag_id} has no run")
        rows = session.query(XCom).filter(
            XCom.dag_id == dag_id, XCom.run_id == run.run_id, XCom.key == "return_value"
        )
        return str(run.state), {row.task_id: XCom.deserialize_value(row) for row in rows}


def intercom_asset_events(dag_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Return the events the DAG's newest run sent to intercom:// Assets: (URI, extra)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    try:
        from airflow.models.asset import AssetEvent as Event, AssetModel as Model  # Airflow 3
    except ImportError:
        from airflow.models.dataset import DatasetEvent as Event, DatasetModel as Model  # type: ignore[no-redef]
    key = "asset_id" if hasattr(Event, "asset_id") else "dataset_id"
    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
        rows = session.query(Event, Model).filter(
            getattr(Event, key) == Model.id, Event.source_run_id == run.run_id
        )
        return [
            (model.uri, dict(event.extra or {}))
            for event, model in rows
            if model.uri.startswith("intercom://")
        ]


def main() -> int:
    logs = Path(os.environ["AIRFLOW_HOME"]) / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    airflow("db", "migrate", log=logs / "db-migrate.log")
    for dag_id in DAGS:
        print(f"Running {dag_id} ... (log: {logs / dag_id}.log)")
        airflow("dags", "test", dag_id, log=logs / f"{dag_id}.log")

    # The hook's progress lines belong in task logs; here they would interleave with the summary.
    # Airflow reads its log level when first imported, which is here: the DAG runs were subprocesses.
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    from airflow_provider_intercom.hooks.intercom import IntercomHook

    hook = IntercomHook()
    print(f"\nIntercom at {hook.settings.base_url} (API {hook.settings.api_version})\n")
    _, export = latest_run(DAGS[0])
    counts = export["export_crm_segments"]
    churn_risk, converted = counts["churn_risk"], counts["converted_trials"]
    print(f"Warehouse export: {churn_risk} churn-risk emails, {converted} converted trials")

    state, hygiene = latest_run(DAGS[1])
    tagged, untagged = hygiene["tag_churn_risk"], hygiene["untag_converted_trials"]
    resolved = tagged.get("resolved", {})
    print(f"CRM hygiene run: {state}")
    print(
        f"  tag_churn_risk: {tagged['tag']['name']!r} applied for {len(tagged['succeeded'])} of "
        f"{tagged['requested']} emails; not found: {', '.join(tagged['not_found']) or 'none'}"
    )
    for email in resolved.get("ambiguous", {}).get("emails", []):
        count = len(resolved["emails"][email])
        print(f"    {email} belongs to {count} contacts (a user and a lead): all of them tagged")
    print(
        f"  untag_converted_trials: {untagged['tag']['name']!r} removed from {len(untagged['succeeded'])} of "
        f"{untagged['requested']} companies: {', '.join(untagged['succeeded'])}"
    )
    synced = hygiene["sync_vip_segment"]
    print(
        f"  sync_vip_segment: plan add {synced['plan']['add']}, remove {synced['plan']['remove']}; "
        f"added {', '.join(synced['added']) or 'none'}; removed {', '.join(synced['removed']) or 'none'}; "
        f"{synced['unchanged']} unchanged"
    )
    waited = hygiene.get("wait_for_churn_risk")
    if waited:
        print(f"  wait_for_churn_risk: {waited['name']!r} carries {waited['tagged_contacts']} contacts")
    print(f"  list_tags: {', '.join(sorted(tag['name'] for tag in hygiene['list_tags']))}")
    print("\nLineage (Asset events, counts only):")
    for uri, extra in intercom_asset_events(DAGS[1]):
        counts = ", ".join(f"{key} {extra[key]}" for key in ("added", "removed", "not_found", "failed"))
        print(f"  {uri}: {counts}")
    followup_state, followup = latest_run(DAGS[2])
    listed = ", ".join(tag["name"] for tag in followup.get("list_churn_tags", []))
    print(f"  {DAGS[2]} (scheduled on that Asset): {followup_state}; churn tags: {listed}")

    churn = hook.find_tag_by_name("churn-risk")
    trial = hook.find_tag_by_name("trial")
    print("\nWhat Intercom holds now:")
    if churn:
        query = {"field": "tag_id", "operator": "=", "value": churn["id"]}
        people = sorted(f"{c.get('email')} ({c.get('role')})" for c in hook.search_contacts(query))
        print(f"  churn-risk on {len(people)} contacts: {', '.join(people)}")
    vip = hook.find_tag_by_name("vip")
    if vip:
        query = {"field": "tag_id", "operator": "=", "value": vip["id"]}
        vips = sorted(str(c.get("email")) for c in hook.search_contacts(query))
        print(f"  vip on {len(vips)} contacts: {', '.join(vips)}")
    if trial:
        companies = sorted(c.get("company_id") or c["id"] for c in hook.list_companies(tag_id=trial["id"]))
        print(f"  trial still on {len(companies)} companies: {', '.join(companies) or 'none'}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
