"""
Every operator that takes ids reads them from each source a warehouse export lands in: a SQLite query,
a PostgreSQL query (through its server-side cursor) and a gzip-compressed export file. A source that
fails in the middle of its stream, a database error or a killed database session, writes nothing, and
the rerun converges.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from airflow_provider_intercom.operators.sync import SyncCompanyTagOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import (
    TagCompaniesOperator,
    TagContactsOperator,
    UntagCompaniesOperator,
    UntagContactsOperator,
)
from tests.airflow_runs import RecordingTaskInstance
from tests.sync_helpers import writes

pytest_plugins = ["tests.postgres_server"]

TAG = "churn-risk"
OBJECTS = 4
SQLITE_CONN = "export_sqlite"
# Long enough that only the test's kill can end it; the test fails (does not hang) if the kill never comes.
SLEEP_SECONDS = 30
KILL_DEADLINE_SECONDS = 20
# The mid-stream cases read this many rows, fetched 1,000 at a time, and fail at FAILING_ROW.
STREAM_ROWS = 2000
KILLED_SESSION = (
    "terminating connection due to administrator command|server closed the connection unexpectedly"
)
FAILING_ROW = 1500


@dataclass(frozen=True)
class Case:
    """
    One operator run from a source: which objects carry the tag before, which the source names, which after.

    :param column: the source's column; its name decides the id list (``field``) for ``sql=``.
    """

    operator: type
    objects: str  # "contacts" or "companies"
    column: str
    field: str
    before: Sequence[int]
    source: Sequence[int]
    after: Sequence[int]
    kwargs: dict[str, Any] = field(default_factory=dict)


SYNC_GUARDS_OFF = {"max_removal_ratio": 1.0}
CASES = {
    "tag-contacts": Case(TagContactsOperator, "contacts", "email", "emails", [], [0, 1, 2], [0, 1, 2]),
    "untag-contacts": Case(
        UntagContactsOperator, "contacts", "id", "contact_ids", [0, 1, 2, 3], [0, 1], [2, 3]
    ),
    "tag-companies": Case(
        TagCompaniesOperator, "companies", "company_id", "company_external_ids", [], [0, 1], [0, 1]
    ),
    "untag-companies": Case(UntagCompaniesOperator, "companies", "id", "company_ids", [0, 1, 2], [1], [0, 2]),
    "sync-contacts": Case(
        SyncContactTagOperator, "contacts", "email", "emails", [0, 1], [1, 2], [1, 2], SYNC_GUARDS_OFF
    ),
    "sync-companies": Case(
        SyncCompanyTagOperator,
        "companies",
        "company_id",
        "company_external_ids",
        [0, 1],
        [1, 2, 3],
        [1, 2, 3],
        SYNC_GUARDS_OFF,
    ),
}


def seed(sandbox, case: Case) -> list[dict[str, str]]:
    """Add the case's objects (those of ``before`` carrying the tag); return each one's values by column."""
    tag = sandbox.state.add_tag(TAG)
    objects = []
    for n in range(OBJECTS):
        tags = [tag.id] if n in case.before else []
        if case.objects == "contacts":
            contact = sandbox.state.add_contact(email=f"row{n}@example.com", role="user", tags=tags)
            objects.append({"id": contact.id, "email": contact.email})
        else:
            company = sandbox.state.add_company(company_id=f"acct-{n}", name=f"Account {n}", tags=tags)
            objects.append({"id": company.id, "company_id": company.company_id})
    return objects


def carrying(sandbox, case: Case) -> set[str]:
    """The ids of the case's objects that carry the tag now."""
    tag = sandbox.state.find_tag_by_name(TAG)
    if case.objects == "contacts":
        found = sandbox.state.live_contacts()
    else:
        found = list(sandbox.state.companies.values())
    return {item.id for item in found if tag.id in item.tags}


# -- the three sources: each writes the values to its store and returns the operator's source arguments --


def sqlite_source(request, tmp_path: Path, column: str, values: list[str]) -> dict[str, Any]:
    path = tmp_path / "export.db"
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{SQLITE_CONN.upper()}", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE export ({column} TEXT)")
        db.executemany("INSERT INTO export VALUES (?)", [(value,) for value in values])
    return {"sql": f"SELECT {column} FROM export", "sql_conn_id": SQLITE_CONN}


def postgres_uri(conn_id: str) -> str:
    from airflow.providers.common.compat.sdk import BaseHook

    return BaseHook.get_connection(conn_id).get_uri().replace("postgres://", "postgresql://")


def postgres_source(request, tmp_path: Path, column: str, values: list[str]) -> dict[str, Any]:
    conn_id = request.getfixturevalue("postgres_conn_id")  # only these cases start the server
    with psycopg2.connect(postgres_uri(conn_id)) as db, db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE export ({column} text)")
        cursor.executemany("INSERT INTO export VALUES (%s)", [(value,) for value in values])
    return {"sql": f"SELECT {column} FROM export", "sql_conn_id": conn_id}


def gzip_source(request, tmp_path: Path, column: str, values: list[str]) -> dict[str, Any]:
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in [column, *values]).encode()))
    return {"ids_file": str(path), "id_key": column}


SOURCES: dict[str, Callable[..., dict[str, Any]]] = {
    "sqlite": sqlite_source,
    "postgres": postgres_source,
    "gzip-csv": gzip_source,
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("name", list(CASES))
def test_every_operator_reads_each_source(intercom_sandbox, request, tmp_path, name, source):
    case = CASES[name]
    objects = seed(intercom_sandbox, case)
    values = [objects[n][case.column] for n in case.source]
    arguments = SOURCES[source](request, tmp_path, case.column, values)
    if source == "gzip-csv":
        arguments["ids_file_field"] = case.field  # a file's column fills the first id list unless told
    report = case.operator(task_id="t", tag_name=TAG, **arguments, **case.kwargs).execute(
        {"ti": RecordingTaskInstance()}
    )
    assert carrying(intercom_sandbox, case) == {objects[n]["id"] for n in case.after}
    if "sql" in arguments:
        # the column's name alone chose the id list, and the source is counted, not listed
        assert report["sql"] == {
            "conn_id": arguments["sql_conn_id"],
            "column": case.column,
            "field": case.field,
            "rows": len(values),
            "skipped_empty": 0,
        }


# -- a source that fails mid-stream ---------------------------------------------------------------------


def repeated(values: list[str], rows: int) -> list[str]:
    """The values again and again, ``rows`` in all: an export long enough to fail after its first fetch."""
    return [values[n % len(values)] for n in range(rows)]


@pytest.mark.parametrize("name", ["tag-contacts", "untag-contacts"])
def test_a_database_error_mid_stream_in_tag_and_untag_modes_writes_nothing_and_a_rerun_converges(
    intercom_sandbox, request, tmp_path, name
):
    case = CASES[name]
    objects = seed(intercom_sandbox, case)
    values = [objects[n][case.column] for n in case.source]
    arguments = sqlite_source(request, tmp_path, case.column, repeated(values, STREAM_ROWS))
    # abs() of the smallest integer overflows at row 1,500: in the second fetch of 1,000
    failing = (
        f"SELECT CASE WHEN rowid = {FAILING_ROW} THEN abs(-9223372036854775807 - 1)"
        f" ELSE {case.column} END AS {case.column} FROM export"
    )
    with pytest.raises(sqlite3.OperationalError, match="integer overflow"):
        case.operator(task_id="t", tag_name=TAG, **{**arguments, "sql": failing}).execute(
            {"ti": RecordingTaskInstance()}
        )
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, case) == {objects[n]["id"] for n in case.before}

    report = case.operator(task_id="t", tag_name=TAG, **arguments).execute({"ti": RecordingTaskInstance()})
    assert report["succeeded"] == values
    assert report["sql"]["rows"] == STREAM_ROWS
    assert carrying(intercom_sandbox, case) == {objects[n]["id"] for n in case.after}


def _kill_when_sleeping(uri: str, killed: list[str]) -> None:
    """From another session: wait (bounded) for a backend in pg_sleep, record its query, terminate it."""
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    db = psycopg2.connect(uri)
    try:
        db.autocommit = True
        with db.cursor() as cursor:
            while time.monotonic() < deadline and not killed:
                cursor.execute(
                    "SELECT pid, query FROM pg_stat_activity"
                    " WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
                )
                for pid, query in cursor.fetchall():
                    cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.append(query)
                time.sleep(0.05)
    finally:
        db.close()


@pytest.mark.parametrize("name", ["tag-contacts", "sync-contacts"])
def test_a_database_session_killed_mid_stream_writes_nothing_and_a_rerun_converges(
    intercom_sandbox, request, tmp_path, name
):
    case = CASES[name]
    objects = seed(intercom_sandbox, case)
    values = [objects[n][case.column] for n in case.source]
    arguments = postgres_source(request, tmp_path, case.column, repeated(values, STREAM_ROWS))
    uri = postgres_uri(arguments["sql_conn_id"])
    with psycopg2.connect(uri) as db, db.cursor() as cursor:
        cursor.execute("ALTER TABLE export ADD COLUMN n serial")  # numbers the rows in insertion order
    # No ORDER BY: each row is computed as it is fetched, so the sleep starts in the second FETCH of 1,000.
    sleeping = (
        f"SELECT CASE WHEN n = {FAILING_ROW} THEN {case.column} || left(pg_sleep({SLEEP_SECONDS})::text, 0)"
        f" ELSE {case.column} END AS {case.column} FROM export"
    )
    killed: list[str] = []
    killer = threading.Thread(target=_kill_when_sleeping, args=(uri, killed))
    killer.start()
    try:
        # psycopg 3 relays the server's message; psycopg2 (Airflow 2.11's driver) only sees the socket close
        with pytest.raises(Exception, match=KILLED_SESSION):
            case.operator(task_id="t", tag_name=TAG, **{**arguments, "sql": sleeping}, **case.kwargs).execute(
                {"ti": RecordingTaskInstance()}
            )
    finally:
        killer.join()
    assert len(killed) == 1
    assert killed[0].upper().startswith("FETCH"), killed  # mid-stream, not at DECLARE
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, case) == {objects[n]["id"] for n in case.before}

    case.operator(task_id="t", tag_name=TAG, **arguments, **case.kwargs).execute(
        {"ti": RecordingTaskInstance()}
    )
    assert carrying(intercom_sandbox, case) == {objects[n]["id"] for n in case.after}
