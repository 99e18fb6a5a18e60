"""
Bench subprocesses, run as ``python -m benchmarks.worker MODE ARGS``; each prints one JSON line last.

- ``untag-ours IDS_FILE MAX_WORKERS``: ``UntagContactsOperator`` on ``intercom_default``.
- ``untag-sdk IDS_FILE``: the SDK's sequential ``tags.untag_contact`` loop on the same connection.
- ``stream``: ``IntercomHook.search_contacts`` over every user; reports the count and peak RSS.
- ``sql-tag HOW``: ``TagContactsOperator`` tags the emails of ``bench_warehouse``'s ``churn`` table,
  reading them itself (``ours``, ``sql=``) or through ``SQLExecuteQueryOperator``'s rows, as XCom
  would carry them (``xcom``); reports peak RSS, the bytes the run puts in XCom, and the counts.
- ``sql-sync MAX_WORKERS``: ``SyncContactTagOperator`` to the ids of ``bench_warehouse``'s
  ``desired`` table; reports peak RSS, the XCom bytes and the counts.

The untag modes print ``ready`` once imported, then wait for a line on stdin, so that several
processes start their work at the same moment.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def untag_ours(ids_file: str, max_workers: str) -> dict[str, Any]:
    """Untag with the provider's operator; ``max_workers`` 0 means the operator's default."""
    from benchmarks.clients import execute, report_counts, untag_operator

    ids = json.loads(Path(ids_file).read_text())
    operator, note = untag_operator(ids, "intercom_default", int(max_workers) or None)
    _ = operator.hook.settings  # resolve the connection before the start signal
    _wait_for_go()
    start = time.time()
    report = execute(operator)
    return {"start": start, "end": time.time(), "note": note, **report_counts(report)}


def untag_sdk(ids_file: str) -> dict[str, Any]:
    """Untag with the SDK, one contact after another, as its users write it."""
    from benchmarks.clients import sdk_client, sdk_untag_each

    ids = json.loads(Path(ids_file).read_text())
    client = sdk_client()
    _wait_for_go()
    start = time.time()
    counts = sdk_untag_each(client, ids)
    return {"start": start, "end": time.time(), "note": "", **counts}


def stream() -> dict[str, Any]:
    """Stream every user through the hook's search generator, keeping nothing; report peak RSS."""
    from airflow_provider_intercom.hooks.intercom import IntercomHook

    hook = IntercomHook()
    count = 0
    for _contact in hook.search_contacts({"field": "role", "operator": "=", "value": "user"}, per_page=150):
        count += 1
    return {"count": count, "maxrss_kib": _peak_rss_kib()}


def sql_tag(how: str) -> dict[str, Any]:
    """Tag the warehouse's churn emails, from ``sql=`` (ours) or from a SQL task's rows (xcom)."""
    from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

    from airflow_provider_intercom.operators.tags import TagContactsOperator
    from benchmarks.clients import execute, report_counts
    from benchmarks.common import TAG_NAME

    query, conn_id = "SELECT email FROM churn", "bench_warehouse"
    common = {"task_id": "tag", "tag_name": TAG_NAME, "max_items": 10**7, "max_failed_ratio": 1.0}
    xcom_bytes = 0
    if how == "ours":
        operator = TagContactsOperator(sql=query, sql_conn_id=conn_id, **common)
    else:
        rows = SQLExecuteQueryOperator(task_id="export", sql=query, conn_id=conn_id).execute({})
        xcom_bytes += len(json.dumps(rows, default=list))  # what the SQL task's XCom holds
        operator = TagContactsOperator(emails=rows, **common)
    report = execute(operator)
    xcom_bytes += len(json.dumps(report))
    return {"maxrss_kib": _peak_rss_kib(), "xcom_bytes": xcom_bytes, **report_counts(report)}


def _peak_rss_kib() -> int:
    """This process's own peak RSS (VmHWM): unlike ru_maxrss, Linux does not carry it over from the
    parent that forked the process, whose size would otherwise set a floor under every figure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def sql_sync(max_workers: str) -> dict[str, Any]:
    """Sync the bench tag to the contact ids of ``bench_warehouse``'s ``desired`` table (``sql=``)."""
    from airflow_provider_intercom.operators.sync import SyncContactTagOperator
    from benchmarks.clients import execute, outcome_count
    from benchmarks.common import TAG_NAME

    operator = SyncContactTagOperator(
        task_id="sync",
        tag_name=TAG_NAME,
        sql="SELECT id FROM desired",
        sql_conn_id="bench_warehouse",
        max_items=10**7,
        max_removals=10**7,
        max_removal_ratio=1.0,
        max_workers=int(max_workers),
    )
    report = execute(operator)
    counts = {key: outcome_count(report, key) for key in ("added", "removed", "not_found", "failed")}
    return {"maxrss_kib": _peak_rss_kib(), "xcom_bytes": len(json.dumps(report)), **counts}


MODES = {
    "untag-ours": untag_ours,
    "untag-sdk": untag_sdk,
    "stream": stream,
    "sql-tag": sql_tag,
    "sql-sync": sql_sync,
}


def main(argv: list[str]) -> int:
    """Run one mode and print its JSON result."""
    if not argv or argv[0] not in MODES:
        print(f"usage: python -m benchmarks.worker {{{','.join(MODES)}}} ARGS", file=sys.stderr)
        return 2
    print(json.dumps(MODES[argv[0]](*argv[1:])), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
