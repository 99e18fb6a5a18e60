"""
A cheap smoke test of the bench, outside ``make test``: ``pytest benchmarks`` (needs the bench extra).

It checks the table and runs the API-calls row on 100 contacts; it asserts no timing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from benchmarks.common import BENCHES, Context, Row, Sizes, bench_env, table

pytest.importorskip("intercom", reason="the bench extra is not installed (pip install -e '.[bench]')")

# Airflow reads its environment when first imported, so set it before any test imports it.
_WORKDIR = Path(tempfile.mkdtemp(prefix="intercom-bench-smoke-"))
_ENV = bench_env(_WORKDIR)
os.environ.update(_ENV)


def test_table_has_one_line_per_row_with_ratio_and_floor():
    text = table([Row("calls", 250, 500, "calls", floor=200, note="n"), Row("pending")])
    lines = text.splitlines()
    assert lines[0].startswith("| measure")
    assert len(lines) == 4
    assert "0.50×" in lines[2]
    assert "200 calls (ours 1.25×)" in lines[2]
    assert "—" in lines[3]


def test_tag_row_runs_on_a_tiny_sandbox():
    from benchmarks.rows import tag_calls

    context = Context(sizes=Sizes(tag_contacts=100, unknown_share=0.02), workdir=_WORKDIR, env=_ENV)
    rows = tag_calls(context)
    assert [row.problem for row in rows] == [False, False]
    for row in rows:
        assert row.ours is not None
        assert row.peer == 103  # the SDK: tags.create, then one call per id (100 known, 2 unknown)
        assert row.floor == 2
        assert row.floor <= row.ours < row.peer


def test_every_row_is_registered_and_measured():
    import benchmarks.rows  # noqa: F401

    titles = [entry.title for entry in BENCHES]
    assert len(titles) == len(set(titles)) >= 6
    assert "sync: desired state" in titles
    assert not any(entry.pending for entry in BENCHES)  # the sync row replaced the last placeholder
