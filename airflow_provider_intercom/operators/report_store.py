"""
Reports that fit XCom: a large run keeps its counts and every miss there, and its full report in a file.

XCom lives in Airflow's metadata database; a 100,000-item run must not put 100,000 ids back into it.
Up to ``max_xcom_items`` items a report is returned whole, as always. Above that, the lists of
items that went well (``succeeded``; for a sync ``added`` and ``removed``) leave XCom: the report
keeps ``counts``, every ``not_found`` and ``failed`` item, and ``summarized: true``. Nothing is lost:
``report_path`` (a local path or an object-storage URL) receives the whole report, one JSON line per
item, whatever the run's size; without it, an item of the input that is neither not found nor failed
succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from airflow_provider_intercom._validation import validate_positive_int
from airflow_provider_intercom.exceptions import IntercomConfigurationError

DEFAULT_MAX_XCOM_ITEMS = 1000
_DONE_LISTS = ("succeeded", "added", "removed")  # items that went well: counted, not listed, when large
_MISS_LISTS = ("not_found", "failed")  # always listed: these are what someone must look at


def item_count(report: dict[str, Any]) -> int:
    """
    Return how many items a report speaks of: the requested ones, or a sync's desired ones and removals.

    :param report: a bulk task's or a sync's report.
    """
    if "requested" in report:
        return int(report["requested"])
    return int(report["desired"]) + int(report["plan"]["remove"])


def publish(
    report: dict[str, Any],
    *,
    path: Any = None,
    conn_id: str | None = None,
    max_items: Any = DEFAULT_MAX_XCOM_ITEMS,
) -> dict[str, Any]:
    """
    Write the whole report to ``path`` when given, and return what goes to XCom.

    :param report: the task's whole report.
    :param path: where the per-item report goes (templated by the operator), or None.
    :param conn_id: the object store's connection when ``path`` is a URL.
    :param max_items: the most items a report may list in XCom.
    """
    limit = validate_positive_int(max_items, "max_xcom_items")
    if path is not None:
        target = validate_report_path(path)
        report = {**report, "report_path": target}
        _write_lines(target, conn_id, report_lines(report))
    return report if item_count(report) <= limit else summarized(report)


def validate_report_path(path: Any, field: str = "report_path") -> str:
    """
    Return a file argument trimmed, or raise naming it.

    :param path: the argument as rendered.
    :param field: the argument's name, for the message.
    """
    if not isinstance(path, str) or not path.strip() or path.strip() in ("None", "null"):
        raise IntercomConfigurationError(f"{field}={path!r} must be a path or an object-storage URL")
    return path.strip()


def summarized(report: dict[str, Any]) -> dict[str, Any]:
    """
    Return a report without the lists of items that went well; counts and misses stay.

    :param report: the whole report.
    """
    kept = {key: value for key, value in report.items() if key not in _DONE_LISTS}
    kept["counts"] = _counts(report)
    if isinstance(report.get("resolved"), dict):  # the email -> contacts map is as large as the input
        resolved = report["resolved"]
        kept["resolved"] = {key: resolved[key] for key in ("unresolved", "ambiguous") if key in resolved}
    kept["summarized"] = True
    return kept


def report_lines(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """
    Yield the report as JSON-lines records: one record per item, then a summary last.

    :param report: the whole report.
    """
    yield from item_lines(report)
    yield summary_line(report)


def item_lines(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """
    Yield one record per item of a report (or of one window of a run), and one per resolved value.

    :param report: a report, or the part of one that a window of the run produced.
    """
    for outcome in (*_DONE_LISTS, "not_found"):
        for item in report.get(outcome, ()):
            yield {"record": "item", "item": item, "outcome": outcome}
    for failure in report.get("failed", ()):
        yield {"record": "item", "item": failure["id"], "outcome": "failed", "error": failure["error"]}
    for kind, key in (("email", "emails"), ("external_id", "external_ids")):
        for value, contacts in (report.get("resolved") or {}).get(key, {}).items():
            yield {"record": "resolved", "item": value, "kind": kind, "contacts": contacts}


def summary_line(report: dict[str, Any]) -> dict[str, Any]:
    """
    Return a report's summary record: everything but its per-item lists, with the counts.

    :param report: the whole report (or its summarized form, which carries ``counts``).
    """
    summary = {
        key: value
        for key, value in report.items()
        if key not in (*_DONE_LISTS, *_MISS_LISTS, "resolved", "summarized")
    }
    return {"record": "summary", **summary, "counts": counts_of(report)}


def counts_of(report: dict[str, Any]) -> dict[str, int]:
    """
    Return how many items each outcome holds, whether the report lists them or (summarized) only counts them.

    :param report: a report, whole or summarized.
    """
    return report.get("counts") or _counts(report)


def _counts(report: dict[str, Any]) -> dict[str, int]:
    counts = {
        key: len(report[key]) for key in (*_DONE_LISTS, *_MISS_LISTS) if isinstance(report.get(key), list)
    }
    if "unchanged" in report:
        counts["unchanged"] = int(report["unchanged"])
    return counts


def _write_lines(path: str, conn_id: str | None, lines: Iterator[dict[str, Any]]) -> None:
    """Write JSON lines to a local file or an object-storage URL, streamed record by record."""
    with open_target(path, conn_id) as handle:
        for line in lines:
            handle.write(json.dumps(line, separators=(",", ":")) + "\n")


def open_target(path: str, conn_id: str | None) -> IO[str]:
    """
    Open a local file or an object-storage URL for writing text.

    :param path: the path or URL.
    :param conn_id: the object store's connection, for a URL.
    """
    if "://" in path:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        target: Any = ObjectStoragePath(path, conn_id=conn_id)
        if path.startswith("file://"):  # object stores have no folders to make; a file system does
            target.parent.mkdir(parents=True, exist_ok=True)
    else:
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
    return target.open("w", encoding="utf-8")
