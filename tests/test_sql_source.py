"""
Ids straight from SQL: ``sql=`` on every operator that takes ids, through a real SQLite file and a real
PostgreSQL server (started by the suite), streamed with ``fetchmany``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomConfigurationError
from airflow_provider_intercom.operators.sql_source import SqlSource
from airflow_provider_intercom.operators.sync import SyncCompanyTagOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import (
    TagCompaniesOperator,
    TagContactsOperator,
    TagTicketsOperator,
    UntagContactsOperator,
)
from tests.airflow_runs import RecordingTaskInstance
from tests.sync_helpers import carrying, writes

pytest_plugins = ["tests.postgres_server"]

SQLITE_CONN = "warehouse_sqlite"


def run(operator_class, **kwargs: Any) -> dict[str, Any]:
    return operator_class(task_id="t", **kwargs).execute({"ti": RecordingTaskInstance()})


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sqlite3.Connection:
    """A SQLite file behind the Airflow connection ``warehouse_sqlite``, with a churn table."""
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{SQLITE_CONN.upper()}", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE churn (n INTEGER, email TEXT, external_id TEXT, company TEXT)")
    yield db
    db.close()


def fill(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    db.executemany("INSERT INTO churn VALUES (?, ?, ?, ?)", rows)
    db.commit()


def sync_from_sqlite(operator_class, tag_name: str, sql: str) -> dict[str, Any]:
    """Sync a tag to a query on the SQLite warehouse, with the removal guards relaxed."""
    return run(operator_class, tag_name=tag_name, sql=sql, sql_conn_id=SQLITE_CONN, max_removal_ratio=1.0)


def seed_contacts(sandbox, count: int) -> list[Any]:
    return [sandbox.state.add_contact(email=f"row{n}@example.com", role="user") for n in range(count)]


# -- the column decides the id list -----------------------------------------------------------------


def test_tag_contacts_by_email_from_sqlite_skips_and_counts_empty_values(intercom_sandbox, warehouse):
    contacts = seed_contacts(intercom_sandbox, 4)
    fill(
        warehouse,
        [(n, f"row{n}@example.com", None, None) for n in range(4)]
        + [(9, None, None, None), (10, " ", None, None)],
    )
    report = run(
        TagContactsOperator,
        tag_name="churn-risk",
        sql="SELECT email FROM churn WHERE n >= :low",
        sql_parameters={"low": 0},
        sql_conn_id=SQLITE_CONN,
    )
    assert report["succeeded"] == [f"row{n}@example.com" for n in range(4)]
    assert report["sql"] == {
        "conn_id": SQLITE_CONN,
        "column": "email",
        "field": "emails",
        "rows": 6,
        "skipped_empty": 2,
    }
    assert carrying(intercom_sandbox, "churn-risk") == {contact.id for contact in contacts}
    # the skipped values were never sent: every search asks only for the four emails
    searched = [
        value
        for entry in intercom_sandbox.requests
        if entry["path"] == "/contacts/search"
        for value in entry["body"]["query"].get("value", [])
    ]
    assert sorted(searched) == sorted(f"row{n}@example.com" for n in range(4))


def test_an_id_column_fills_contact_ids_and_sql_id_field_overrides_a_column_name(intercom_sandbox, warehouse):
    contacts = seed_contacts(intercom_sandbox, 3)
    warehouse.execute("CREATE TABLE ids (id TEXT, mail TEXT)")
    warehouse.executemany("INSERT INTO ids VALUES (?, ?)", [(c.id, c.email) for c in contacts])
    warehouse.commit()
    tagged = run(TagContactsOperator, tag_name="vip", sql="SELECT id FROM ids", sql_conn_id=SQLITE_CONN)
    assert tagged["succeeded"] == [c.id for c in contacts]
    assert tagged["sql"]["field"] == "contact_ids"
    untagged = run(
        UntagContactsOperator,
        tag_name="vip",
        sql="SELECT mail FROM ids",
        sql_conn_id=SQLITE_CONN,
        sql_id_field="emails",
    )
    assert untagged["succeeded"] == [c.email for c in contacts]
    assert untagged["sql"]["field"] == "emails"
    assert carrying(intercom_sandbox, "vip") == set()


def test_id_key_picks_one_of_several_columns(intercom_sandbox, warehouse):
    seed_contacts(intercom_sandbox, 2)
    fill(warehouse, [(n, f"row{n}@example.com", f"ext-{n}", None) for n in range(2)])
    report = run(
        TagContactsOperator,
        tag_name="t",
        sql="SELECT n, email FROM churn",
        sql_conn_id=SQLITE_CONN,
        id_key="email",
    )
    assert report["succeeded"] == ["row0@example.com", "row1@example.com"]


def test_companies_by_company_id_and_a_sync_from_sqlite(intercom_sandbox, warehouse):
    state = intercom_sandbox.state
    acme, globex, initech = (
        state.add_company(company_id=name, name=name) for name in ("acme", "globex", "initech")
    )
    fill(warehouse, [(1, None, None, "acme"), (2, None, None, "globex")])
    tagged = run(
        TagCompaniesOperator,
        tag_name="trial",
        sql="SELECT company AS company_id FROM churn",
        sql_conn_id=SQLITE_CONN,
    )
    assert tagged["succeeded"] == ["acme", "globex"]
    assert tagged["sql"]["field"] == "company_external_ids"
    fill(warehouse, [(3, None, None, "initech")])
    synced = sync_from_sqlite(
        SyncCompanyTagOperator, "trial", "SELECT company AS company_id FROM churn WHERE n > 1"
    )
    assert synced["added"] == ["initech"]
    assert synced["removed"] == [acme.id]
    assert synced["unchanged"] == 1
    assert synced["sql"]["rows"] == 2
    assert {c.id for c in state.companies.values() if state.find_tag_by_name("trial").id in c.tags} == {
        globex.id,
        initech.id,
    }


def test_a_contact_sync_from_sqlite(intercom_sandbox, warehouse):
    contacts = seed_contacts(intercom_sandbox, 5)
    run(TagContactsOperator, tag_name="seg", contact_ids=[c.id for c in contacts[:3]])
    fill(warehouse, [(n, f"row{n}@example.com", None, None) for n in (1, 2, 3)])
    report = sync_from_sqlite(SyncContactTagOperator, "seg", "SELECT email FROM churn")
    assert report["added"] == ["row3@example.com"]
    assert report["removed"] == [contacts[0].id]
    assert carrying(intercom_sandbox, "seg") == {c.id for c in contacts[1:4]}


# -- bad input, before any request -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"sql": "SELECT email FROM churn"}, r"sql_conn_id=None: sql needs the Airflow connection"),
        ({"sql": "  ", "sql_conn_id": SQLITE_CONN}, r"sql='  ' must be a query"),
        ({"sql": "None", "sql_conn_id": SQLITE_CONN}, r"what a template renders for a missing value"),
        (
            {"sql": "SELECT n, email FROM churn", "sql_conn_id": SQLITE_CONN},
            r"2 columns \(n, email\): select only",
        ),
        (
            {"sql": "SELECT company FROM churn", "sql_conn_id": SQLITE_CONN},
            r"column 'company' names no id list; .*email \(emails\)",
        ),
        (
            {"sql": "SELECT email FROM churn", "sql_conn_id": SQLITE_CONN, "emails": ["a@b.c"]},
            r"sql and emails \(or ids_file\) both give emails",
        ),
        (
            {"sql": "SELECT n FROM churn", "sql_conn_id": SQLITE_CONN, "sql_id_field": "names"},
            r"sql_id_field='names' must be one of: contact_ids, emails, external_ids",
        ),
        (
            {"sql": "SELECT email FROM churn", "sql_conn_id": "intercom_default"},
            r"sql_conn_id='intercom_default' is a 'intercom' connection, whose hook \(IntercomHook\) is not",
        ),
        (
            {"sql": "SELECT email FROM churn", "sql_conn_id": SQLITE_CONN, "sql_parameters": "x"},
            r"sql_parameters='x' must be a mapping or a list",
        ),
        ({"sql": "SELECT email FROM nowhere", "sql_conn_id": SQLITE_CONN}, r"no such table"),
    ],
)
def test_bad_sql_arguments_are_refused_before_any_intercom_request(
    intercom_sandbox, warehouse, arguments, message
):
    fill(warehouse, [(1, "row1@example.com", None, None)])
    with pytest.raises(Exception, match=message) as caught:
        run(TagContactsOperator, tag_name="t", **arguments)
    if "no such table" not in message:
        assert isinstance(caught.value, IntercomConfigurationError)
    assert intercom_sandbox.requests == []


def test_a_database_error_mid_stream_writes_nothing(intercom_sandbox, warehouse):
    contacts = seed_contacts(intercom_sandbox, 3)
    run(TagContactsOperator, tag_name="seg", contact_ids=[c.id for c in contacts])
    intercom_sandbox.state.clear_request_log()
    fill(warehouse, [(n, f"row{n}@example.com", None, None) for n in range(10)])
    # abs() of the smallest integer overflows at the sixth row, after five rows were read
    failing = (
        "SELECT CASE WHEN n < 5 THEN email ELSE abs(-9223372036854775807 - 1) END AS email"
        " FROM churn ORDER BY n"
    )
    with pytest.raises(sqlite3.OperationalError, match="integer overflow"):
        SyncContactTagOperator(
            task_id="t", tag_name="seg", sql=failing, sql_conn_id=SQLITE_CONN, max_removal_ratio=1.0
        ).execute({"ti": RecordingTaskInstance()})
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, "seg") == {c.id for c in contacts}


def test_a_sql_file_is_read_as_a_template(intercom_sandbox, warehouse, tmp_path):
    from airflow.providers.common.compat.sdk import DAG

    seed_contacts(intercom_sandbox, 2)
    fill(warehouse, [(n, f"row{n}@example.com", None, None) for n in range(2)])
    (tmp_path / "churn.sql").write_text("SELECT email FROM churn WHERE n < {{ params.limit }}")
    with DAG("sql_file", schedule=None, template_searchpath=[str(tmp_path)], params={"limit": 1}):
        operator = TagContactsOperator(task_id="t", tag_name="t", sql="churn.sql", sql_conn_id=SQLITE_CONN)
    operator.resolve_template_files()
    operator.render_template_fields({"params": {"limit": 1}})
    assert operator.sql == "SELECT email FROM churn WHERE n < 1"
    assert operator.execute({"ti": RecordingTaskInstance()})["succeeded"] == ["row0@example.com"]


def test_tickets_by_ticket_id_from_sql(intercom_sandbox, warehouse):
    state = intercom_sandbox.state
    ticket = state.add_ticket().id
    warehouse.execute("CREATE TABLE tickets (ticket_id TEXT)")
    warehouse.execute("INSERT INTO tickets VALUES (?)", (ticket,))
    warehouse.commit()
    report = run(
        TagTicketsOperator,
        tag_name="billing",
        admin_id=state.primary_admin().id,
        sql="SELECT ticket_id FROM tickets",
        sql_conn_id=SQLITE_CONN,
        api_version="2.11",
    )
    assert report["succeeded"] == [ticket]
    assert report["sql"]["field"] == "ticket_ids"
    assert state.find_tag_by_name("billing").id in state.tickets[ticket].tags


# -- PostgreSQL: a real server, a server-side cursor -------------------------------------------------


def test_tag_contacts_from_postgres_through_a_server_side_cursor(intercom_sandbox, postgres_conn_id):
    import psycopg2
    from airflow.providers.common.compat.sdk import BaseHook

    contacts = seed_contacts(intercom_sandbox, 30)
    uri = BaseHook.get_connection(postgres_conn_id).get_uri().replace("postgres://", "postgresql://")
    with psycopg2.connect(uri) as db, db.cursor() as cursor:
        cursor.execute("CREATE TABLE churn (email text)")
        cursor.executemany("INSERT INTO churn VALUES (%s)", [(c.email,) for c in contacts] + [(None,)])
    source = SqlSource("SELECT email FROM churn ORDER BY email", postgres_conn_id, fetch_size=10)
    stream = source.ids(None)
    first = [next(stream) for _ in range(5)]
    # Another session sees ours fetching from the named cursor: the rows stay on the server.
    with psycopg2.connect(uri) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE %s",
            (f"%{source.server_side_cursor}%",),
        )
        seen = [row[0] for row in cursor.fetchall()]
    rest = list(stream)
    assert source.server_side_cursor, "a named cursor"
    assert any("FETCH" in query.upper() for query in seen), seen
    assert len(first) + len(rest) == 30
    assert source.skipped_empty == 1
    report = run(
        TagContactsOperator,
        tag_name="churn-risk",
        sql="SELECT email FROM churn",
        sql_conn_id=postgres_conn_id,
    )
    assert len(report["succeeded"]) == 30
    assert report["sql"]["rows"] == 31
    assert report["sql"]["skipped_empty"] == 1
    assert carrying(intercom_sandbox, "churn-risk") == {c.id for c in contacts}
