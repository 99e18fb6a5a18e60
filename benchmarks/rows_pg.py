"""
Bench rows for ``sql=`` on a real PostgreSQL server (started here, on loopback, in a temporary
directory): tagging from a query, and a large sync whose desired set is a table.
"""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from benchmarks.common import Context, Row, bench, connection_env, contact_ids, email_of, run_json, sandbox
from benchmarks.rows import BULK_BATCH
from benchmarks.rows_sql import _tag_run

SYNC_CHURN = 0.05  # of the desired set: added; as many current members removed


@contextmanager
def _database(tables: dict[str, tuple[str, Sequence[str]]]) -> Iterator[dict[str, str]]:
    """A fresh database on a throwaway server holding ``tables`` (name: (column, values)); yields the
    ``bench_warehouse`` connection."""
    import psycopg2

    from tests.postgres_server import running_postgres

    with running_postgres() as server:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(server.uri)
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {name}")
        admin.close()
        with psycopg2.connect(server.uri_for(name)) as db, db.cursor() as cursor:
            for table, (column, values) in tables.items():
                cursor.execute(f"CREATE TABLE {table} ({column} text)")
                cursor.copy_expert(f"COPY {table} FROM STDIN", io.StringIO("".join(f"{v}\n" for v in values)))
        yield {"AIRFLOW_CONN_BENCH_WAREHOUSE": server.uri_for(name)}


def _sync_run(ctx: Context, members: int) -> dict[str, Any]:
    """Sync ``members`` desired contacts (5% new) against ``members`` current (5% leaving)."""
    churn = max(1, int(members * SYNC_CHURN))
    current = contact_ids(members)
    newcomers = contact_ids(churn, prefix="65c")
    desired = current[churn:] + newcomers
    with _database({"desired": ("id", desired)}) as warehouse:
        with sandbox(current, tagged=True, untagged=newcomers) as box:
            env = {**ctx.env, **connection_env(box, "intercom_default"), **warehouse}
            result = run_json([ctx.python, "-m", "benchmarks.worker", "sql-sync", "8"], env)
            result["calls"] = len(box.requests)
    if (result["added"], result["removed"], result["failed"]) != (churn, churn, 0):
        raise RuntimeError(f"sync of {members}: {result}")
    result["floor"] = math.ceil(members / 150) + math.ceil(churn / BULK_BATCH) + churn
    return result


@bench("warehouse source: PostgreSQL")
def postgres_source(ctx: Context) -> list[Row]:
    """Tag from a Postgres query, and sync a large tag to a Postgres table: calls, RSS and XCom."""
    from tests.postgres_server import PostgresNotInstalled

    big, small = ctx.sizes.sql_big, ctx.sizes.sql_small
    try:
        with _database({"churn": ("email", [email_of(cid) for cid in contact_ids(big)])}) as warehouse:
            tagged = _tag_run(ctx, big, "ours", warehouse)
        with _database({"churn": ("email", [email_of(cid) for cid in contact_ids(small)])}) as warehouse:
            tagged_small = _tag_run(ctx, small, "ours", warehouse)
        members = ctx.sizes.sync_members
        synced, synced_small = _sync_run(ctx, members), _sync_run(ctx, small)
    except PostgresNotInstalled as missing:
        return [Row("warehouse source: PostgreSQL", note=f"not measured: {missing}")]
    churn = int(members * SYNC_CHURN)
    tag_title = f"tag {big:,} contacts by email from SQL (PostgreSQL, server-side cursor)"
    sync_title = (
        f"sync {members:,} desired contacts from PostgreSQL vs {members:,} current, {churn:,} in and out"
    )
    return [
        Row(
            f"{tag_title}: peak RSS against {small:,} rows",
            tagged["maxrss_kib"] / 1024,
            tagged_small["maxrss_kib"] / 1024,
            "MiB",
            note="goal: at most +30 MB",
        ),
        Row(
            f"{tag_title}: API calls",
            tagged["calls"],
            None,
            "calls",
            2 * math.ceil(big / BULK_BATCH),
            note=f"floor: one IN search and one bulk tag per {BULK_BATCH} emails",
        ),
        Row(
            f"{sync_title}: API calls",
            synced["calls"],
            None,
            "calls",
            synced["floor"],
            note="floor: member pages of 150 + bulk tags of 50 + one untag per removal; above it: the "
            "existence check of the ids to add, GET /tags, GET /me",
        ),
        Row(
            f"{sync_title}: peak RSS against the same sync at {small:,}",
            synced["maxrss_kib"] / 1024,
            synced_small["maxrss_kib"] / 1024,
            "MiB",
            note="goal: at most +80 MB",
        ),
        Row(
            f"{sync_title}: bytes put in XCom",
            synced["xcom_bytes"],
            None,
            "B",
            note="the summarized report: counts and misses (goal: under 256 KB)",
        ),
    ]
