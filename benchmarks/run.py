"""
Run every registered row and print one markdown table, with the date, versions and CPU count.

Environment: ``BENCH_QUICK=1`` shrinks every size for a smoke run; ``BENCH_ONLY=word[,word]`` runs
only the rows whose title contains one of the words; ``BENCH_LOG_LEVEL`` (default ERROR) is the
Airflow log level of the bench processes. Exit status 1 when a row failed or lost items; timings
never fail it.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks.common import BENCHES, QUICK, Context, Row, Sizes, bench_env, table


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def header(sizes: Sizes) -> str:
    """The lines above the table: when, on what, with which sizes."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"airflow-provider-intercom bench, {when}, {sizes.label}",
            f"Python {platform.python_version()} · Airflow {_version('apache-airflow')} · "
            f"python-intercom {_version('python-intercom')} · "
            f"apache-airflow-providers-http {_version('apache-airflow-providers-http')} · "
            f"nproc {len(os.sched_getaffinity(0))}",
        ]
    )


def selected(title: str) -> bool:
    """Whether ``BENCH_ONLY`` (comma-separated words) lets a row run; all run when it is unset."""
    words = [word.strip().lower() for word in os.environ.get("BENCH_ONLY", "").split(",") if word.strip()]
    return not words or any(word in title.lower() for word in words)


def main() -> int:
    """Run the bench; print progress to stderr and the table to stdout."""
    sizes = QUICK if os.environ.get("BENCH_QUICK", "") not in ("", "0") else Sizes()
    began = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="intercom-bench-") as scratch:
        workdir = Path(scratch)
        env = bench_env(workdir)
        # Before Airflow is imported: its home, log level and (below) connections come from here.
        os.environ.update(env)
        import benchmarks.rows
        import benchmarks.rows_pg
        import benchmarks.rows_plan
        import benchmarks.rows_sql  # noqa: F401  (all register their rows)

        context = Context(sizes=sizes, workdir=workdir, env=env)
        for entry in BENCHES:
            if not selected(entry.title):
                continue
            print(f"[bench] {entry.title} ...", file=sys.stderr, flush=True)
            row_began = time.perf_counter()
            try:
                rows.extend(entry.run(context))
            except Exception as error:
                traceback.print_exc(file=sys.stderr)
                rows.append(Row(entry.title, note=f"error: {type(error).__name__}: {error}", problem=True))
            print(
                f"[bench] {entry.title}: {time.perf_counter() - row_began:.1f} s", file=sys.stderr, flush=True
            )
    print()
    print(header(sizes))
    print()
    print(table(rows))
    print()
    print(f"Total bench time: {time.perf_counter() - began:.0f} s. Ratios are the figures to read; absolute")
    print("times depend on the machine and its load.")
    problems = [row.name for row in rows if row.problem]
    if problems:
        print(f"\nPROBLEMS (lost items or errors): {'; '.join(problems)}")
        return 1
    return 0
