"""
A bulk run's report, built window by window as the run resolves and writes its items.

Each window's item records go to ``report_path`` as soon as the window is done; the lists a small
run returns are kept only when the whole run fits ``max_xcom_items``, so a large run holds its
counts and its misses, not every id it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import IO, Any

from airflow_provider_intercom.operators.report_store import (
    item_lines,
    open_target,
    summarized,
    summary_line,
    validate_report_path,
)


def windows(inputs: Mapping[str, list[str]], size: int) -> Iterator[dict[str, list[str]]]:
    """
    Split the id lists into windows of at most ``size`` items, in order; an item given twice counts once.

    :param inputs: the id lists, by argument, in the order the operator reads them.
    :param size: the most items in one window.
    """
    seen: set[str] = set()
    window: dict[str, list[str]] = {field: [] for field in inputs}
    count = 0
    for field, values in inputs.items():
        for value in values:
            if value in seen:
                continue
            seen.add(value)
            window[field].append(value)
            count += 1
            if count == size:
                yield window
                window, count = {field: [] for field in inputs}, 0
    if count:
        yield window


class RunReport:
    """
    The report of one bulk run, gathered from its windows.

    :param requested: how many items the run was given, after dedupe.
    :param max_items: above this many, the lists of items done stay out of the report.
    :param path: ``report_path``, where every record goes as the run proceeds; None for none.
    :param conn_id: the object store's connection when ``path`` is a URL.
    """

    def __init__(self, requested: int, max_items: int, path: Any = None, conn_id: str | None = None) -> None:
        self.requested = requested
        self.keep_done = requested <= max_items
        self.path = None if path is None else validate_report_path(path)
        self._handle: IO[str] | None = None if self.path is None else open_target(self.path, conn_id)
        self.succeeded: list[str] = []
        self.succeeded_count = 0
        self.not_found: list[str] = []
        self.failed: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}

    def add(self, piece: dict[str, Any]) -> None:
        """
        Take one window's report: write its records, keep what the final report lists.

        :param piece: the window's report, as :meth:`ItemReport.as_dict` gives it, with its extras.
        """
        self._write(item_lines(piece))
        self.succeeded_count += len(piece["succeeded"])
        if self.keep_done:
            self.succeeded.extend(piece["succeeded"])
        self.not_found.extend(piece["not_found"])
        self.failed.extend(piece["failed"])
        for key, value in piece.items():
            if key == "resolved":
                self._merge_resolved(value)
            elif key not in ("tag", "requested", "succeeded", "not_found", "failed", "dry_run"):
                self.extra.setdefault(key, value)

    def finish(self, tag: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        """
        Return the run's report, write its summary record last, and close ``report_path``.

        :param tag: the tag, as reports show it.
        :param dry_run: whether writes were skipped.
        """
        report: dict[str, Any] = {
            "tag": tag,
            "requested": self.requested,
            "succeeded": self.succeeded,
            "not_found": self.not_found,
            "failed": self.failed,
            "dry_run": dry_run,
            **self.extra,
        }
        if self.path is not None:
            report["report_path"] = self.path
        if not self.keep_done:
            report = summarized(report)
            report["counts"]["succeeded"] = self.succeeded_count
        self._write([summary_line(report)])
        self.close()
        return report

    def close(self) -> None:
        """Close ``report_path``, if open; what was written so far stays."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, records: Any) -> None:
        if self._handle is not None:
            for record in records:
                self._handle.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _merge_resolved(self, resolved: dict[str, Any]) -> None:
        merged = self.extra.setdefault("resolved", {})
        for key, value in resolved.items():
            if isinstance(value, dict) and key in ("emails", "external_ids"):
                if self.keep_done:  # the value -> contacts map is as large as the input
                    merged.setdefault(key, {}).update(value)
            elif isinstance(value, dict):  # unresolved / ambiguous: lists by kind
                for kind, values in value.items():
                    merged.setdefault(key, {}).setdefault(kind, []).extend(values)
