"""
The parameters every Intercom operator shares, documented once and appended to each operator's docstring.

Sphinx and ``help()`` show a class's own docstring only; appending keeps every parameter on the page
of the operator that takes it, while the text lives here alone.
"""

from __future__ import annotations

from typing import Any

# The parameters of every tag task, documented once and appended to each operator's docstring.
TAG_TASK_PARAMS = """
    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`~airflow_provider_intercom.operators.inputs.chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to; defaults to the operator's first.
    :param ids_file_conn_id: the Airflow connection of the object store when ``ids_file`` is a URL
        (``s3://...``, ``gs://...``); ``file://`` and local paths need none. A ``.gz`` file
        (``churn.csv.gz``) is decompressed as it streams.
    :param sql: a query whose rows are more ids, read through the database connection ``sql_conn_id``
        and streamed with ``fetchmany`` (templated; a ``.sql`` file is read as a template). Its one
        column (or the column ``id_key`` names) decides the id list it fills: see the operator's
        ``sql_columns``. NULL and empty values are skipped and counted in the report's ``sql``.
    :param sql_conn_id: the Airflow connection of the database; its hook must be a common-sql
        ``DbApiHook`` (Postgres, Snowflake, BigQuery, SQLite, ...).
    :param sql_parameters: the query's parameters, passed to the driver (templated).
    :param sql_id_field: the id list the query fills whatever its column is named, e.g. ``"emails"``.
    :param report_path: where the whole per-item report goes, one JSON line per item: a local path
        or an object-storage URL (templated). Written for every run when given.
    :param report_conn_id: the object store's connection when ``report_path`` is a URL.
    :param max_xcom_items: above this many items, the report in XCom keeps counts and every miss
        but not the lists of items done (``summarized: true``); see ``report_path``. Default 1,000.
"""
CONNECTION_PARAMS = """
    :param intercom_conn_id: the Airflow connection to use (templated).
    :param api_version: overrides the connection's ``api_version`` extra (templated).
    :param region: overrides the connection's ``region`` extra, us, eu or au (templated).
"""


def documents_shared_parameters(cls: Any) -> Any:
    """
    Append the shared parameters' docs (the class's ``shared_parameters_doc``) to an operator's docstring.

    :param cls: the operator class.
    """
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n" + cls.shared_parameters_doc
    return cls
