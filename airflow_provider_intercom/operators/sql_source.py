"""
Ids read straight from a SQL query, through Airflow's own database hooks, streamed in chunks.

Any connection whose hook is a common-sql ``DbApiHook`` works (Postgres, Snowflake, BigQuery,
Redshift, SQLite, DuckDB, ...). Rows are fetched with ``fetchmany``, never ``fetchall``; on
PostgreSQL the cursor is a named (server-side) one, since a plain psycopg cursor loads the whole
result into client memory on ``execute``. Nothing here talks to Intercom.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_intercom.exceptions import IntercomConfigurationError

FETCH_SIZE = 1000  # rows per fetchmany: memory grows with this, not with the result


@dataclass
class SqlSource:
    """
    A query to read ids from, and what it read.

    :param sql: the query (rendered; a ``.sql`` file is read by Airflow's templating).
    :param conn_id: the Airflow connection of the database.
    :param parameters: the query's parameters, passed to the driver.
    :param fetch_size: rows per ``fetchmany``.
    """

    sql: str
    conn_id: str
    parameters: Any = None
    fetch_size: int = FETCH_SIZE
    column: str | None = field(default=None, init=False)
    rows: int = field(default=0, init=False)
    skipped_empty: int = field(default=0, init=False)
    server_side_cursor: str | None = field(default=None, init=False)

    def ids(self, id_key: str | None) -> Iterator[str]:
        """
        Yield the query's ids, trimmed, skipping (and counting) NULL and empty values.

        :param id_key: the column to read when the query returns several; None takes its one column.
        """
        connection = db_hook(self.conn_id).get_conn()
        cursor = self._cursor(connection)
        try:
            cursor.execute(self.sql, self.parameters) if self.parameters is not None else cursor.execute(
                self.sql
            )
            chunk = cursor.fetchmany(self.fetch_size)  # a named cursor describes its columns after a fetch
            position = self._id_position(cursor.description, id_key)
            while chunk:
                for row in chunk:
                    self.rows += 1
                    value = row[position]
                    if value is None or not str(value).strip():
                        self.skipped_empty += 1
                        continue
                    yield str(value).strip()
                chunk = cursor.fetchmany(self.fetch_size)
        finally:
            cursor.close()
            connection.close()

    def summary(self, id_field: str) -> dict[str, Any]:
        """
        Describe what the query gave, for the report (no ids: counts only).

        :param id_field: the id list the rows filled.
        """
        return {
            "conn_id": self.conn_id,
            "column": self.column,
            "field": id_field,
            "rows": self.rows,
            "skipped_empty": self.skipped_empty,
        }

    def _cursor(self, connection: Any) -> Any:
        # psycopg2 and psycopg 3 load the whole result on execute unless the cursor is named.
        if type(connection).__module__.split(".")[0] in ("psycopg2", "psycopg"):
            self.server_side_cursor = f"intercom_ids_{uuid.uuid4().hex[:12]}"
            cursor = connection.cursor(name=self.server_side_cursor)
            cursor.itersize = self.fetch_size
            return cursor
        return connection.cursor()

    def _id_position(self, description: Any, id_key: str | None) -> int:
        columns = [str(column[0]) for column in description or ()]
        if id_key is not None:
            if id_key not in columns:
                raise IntercomConfigurationError(
                    f"sql returns no column id_key={id_key!r} (its columns: {', '.join(columns) or 'none'})"
                )
            self.column = id_key
        elif len(columns) == 1:
            self.column = columns[0]
        else:
            raise IntercomConfigurationError(
                f"sql returns {len(columns)} columns ({', '.join(columns)}): select only the id column, "
                "or set id_key to the column that holds the id"
            )
        return columns.index(self.column)


def db_hook(conn_id: str) -> Any:
    """
    Return the database hook of an Airflow connection, refusing one that is not a ``DbApiHook``.

    :param conn_id: the connection's id.
    """
    from airflow.providers.common.compat.sdk import BaseHook

    try:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
    except ImportError as error:
        raise IntercomConfigurationError(
            "sql= reads through apache-airflow-providers-common-sql, which is not installed: "
            "pip install 'airflow-provider-intercom[sql]'"
        ) from error
    connection = BaseHook.get_connection(conn_id)
    hook = connection.get_hook()
    if not isinstance(hook, DbApiHook):
        raise IntercomConfigurationError(
            f"sql_conn_id={conn_id!r} is a {connection.conn_type!r} connection, whose hook "
            f"({type(hook).__name__}) is not a database hook (common-sql DbApiHook): sql= needs one"
        )
    return hook


def sql_target(
    columns: Mapping[str, str], column: str | None, override: str | None, id_fields: tuple[str, ...]
) -> str:
    """
    Return the id list a query's rows fill: ``override`` if given, else the one named by the column.

    :param columns: the column names each id list takes, e.g. ``{"email": "emails"}``.
    :param column: the query's id column.
    :param override: ``sql_id_field``, the task's choice; None lets the column decide.
    :param id_fields: the task's id lists.
    """
    if override is not None:
        if override not in id_fields:
            raise IntercomConfigurationError(
                f"sql_id_field={override!r} must be one of: {', '.join(id_fields)}"
            )
        return override
    key = (column or "").strip().lower()
    if key not in columns:
        known = ", ".join(f"{name} ({target})" for name, target in columns.items())
        raise IntercomConfigurationError(
            f"sql's column {column!r} names no id list; name it one of: {known}, or set sql_id_field"
        )
    return columns[key]


def add_sql_ids(
    inputs: dict[str, list[str]],
    source: SqlSource,
    *,
    id_key: str | None,
    id_field: str | None,
    columns: Mapping[str, str],
) -> dict[str, Any]:
    """
    Read a query's ids into the id list its column (or ``sql_id_field``) names, before any write.

    :param inputs: the task's id lists, by argument; the query's ids are added to one of them.
    :param source: the query.
    :param id_key: the column to read when the query returns several.
    :param id_field: ``sql_id_field``: the id list to fill whatever the column's name.
    :param columns: the column names each id list takes, e.g. ``{"email": "emails"}``.
    :return: the report's ``{"sql": {...}}`` summary: counts, never ids.
    """
    fields = tuple(inputs)
    if id_field is not None:
        _refuse_both(inputs, sql_target(columns, None, id_field, fields))
    ids = list(dict.fromkeys(source.ids(id_key)))
    target = sql_target(columns, source.column, id_field, fields)
    _refuse_both(inputs, target)
    inputs[target] = ids
    return {"sql": source.summary(target)}


def _refuse_both(inputs: dict[str, list[str]], target: str) -> None:
    if inputs[target]:
        raise IntercomConfigurationError(
            f"sql and {target} (or ids_file) both give {target}: pass these ids one way, not both"
        )


def sql_source(sql: Any, conn_id: Any, parameters: Any) -> SqlSource:
    """
    Check a task's ``sql`` arguments, before any query, and return the source.

    :param sql: the rendered query.
    :param conn_id: ``sql_conn_id``.
    :param parameters: ``sql_parameters``: a mapping or a sequence, as the driver takes them.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise IntercomConfigurationError(f"sql={sql!r} must be a query (or the path of a .sql file)")
    if sql.strip() in ("None", "null"):
        raise IntercomConfigurationError(
            f"sql={sql.strip()!r} is what a template renders for a missing value: check the template"
        )
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise IntercomConfigurationError(
            f"sql_conn_id={conn_id!r}: sql needs the Airflow connection of the database to run it on"
        )
    if parameters is not None and (
        isinstance(parameters, str) or not isinstance(parameters, Mapping | list | tuple)
    ):
        raise IntercomConfigurationError(
            f"sql_parameters={parameters!r} must be a mapping or a list of the query's parameters"
        )
    return SqlSource(sql.strip(), conn_id.strip(), parameters)
