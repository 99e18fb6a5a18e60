"""
Bench rows for ids read straight from the warehouse (``sql=``), against the same rows passed through XCom.

Each run is a fresh subprocess, so its peak RSS (``ru_maxrss``) is its own; the sandbox and the
SQLite warehouse live in the bench process.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from benchmarks.common import (
    Context,
    Row,
    bench,
    connection_env,
    contact_ids,
    email_of,
    run_json,
    sandbox,
)
from benchmarks.rows import BULK_BATCH


def _warehouse(ctx: Context, count: int) -> dict[str, str]:
    """Write a SQLite warehouse whose churn table holds ``count`` emails; return its connection."""
    path = ctx.workdir / f"warehouse-{count}.db"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE churn (email TEXT)")
        db.executemany("INSERT INTO churn VALUES (?)", [(email_of(cid),) for cid in contact_ids(count)])
    return {"AIRFLOW_CONN_BENCH_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(path)})}


def _tag_run(ctx: Context, count: int, how: str, warehouse: dict[str, str] | None = None) -> dict[str, Any]:
    """Tag ``count`` contacts by email from a warehouse (SQLite unless given), ``how`` = ours or xcom."""
    with sandbox(contact_ids(count)) as box:
        env = {**ctx.env, **connection_env(box, "intercom_default"), **(warehouse or _warehouse(ctx, count))}
        result = run_json([ctx.python, "-m", "benchmarks.worker", "sql-tag", how], env)
        result["calls"] = len(box.requests)
    if result["succeeded"] != count:
        raise RuntimeError(f"{how}: tagged {result['succeeded']} of {count}")
    return result


@bench("warehouse source: sql= against rows through XCom")
def sql_source(ctx: Context) -> list[Row]:
    """Peak RSS, XCom bytes and API calls of tagging many contacts by email read from SQL."""
    big, small = ctx.sizes.sql_big, ctx.sizes.sql_small
    ours, xcom, ours_small = (
        _tag_run(ctx, big, "ours"),
        _tag_run(ctx, big, "xcom"),
        _tag_run(ctx, small, "ours"),
    )
    mib = {
        name: run["maxrss_kib"] / 1024
        for name, run in (("ours", ours), ("xcom", xcom), ("small", ours_small))
    }
    floor = 2 * math.ceil(big / BULK_BATCH)  # the resolving IN searches and the bulk tag calls
    title = f"tag {big:,} contacts by email from SQL (SQLite)"
    return [
        Row(
            f"{title}: peak RSS, sql= vs SQLExecuteQueryOperator rows through XCom",
            mib["ours"],
            mib["xcom"],
            "MiB",
            note="one subprocess each; its VmHWM at the end; the XCom side holds the SQL task's rows",
        ),
        Row(
            f"{title}: bytes put in XCom",
            ours["xcom_bytes"],
            xcom["xcom_bytes"],
            "B",
            note="JSON size of what each run stores: ours the summarized report; theirs the SQL task's rows "
            "plus the report",
        ),
        Row(
            f"{title}: peak RSS against {small:,} rows (ours)",
            mib["ours"],
            mib["small"],
            "MiB",
            note=f"{mib['ours'] - mib['small']:+.0f} MiB for {big - small:,} more rows (goal: at most "
            "+30 MB; the ids are held, then resolved and written 1,000 at a time)",
        ),
        Row(
            f"{title}: API calls",
            ours["calls"],
            None,
            "calls",
            floor,
            note=f"floor: one IN search and one bulk tag per {BULK_BATCH} emails; plus GET /tags, GET /me",
        ),
    ]
