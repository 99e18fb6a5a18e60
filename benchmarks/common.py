"""
Shared pieces of the bench: sizes, the row registry, table formatting, sandboxes and subprocesses.

This module imports neither Airflow nor the provider, so ``run.py`` can set the environment first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

if TYPE_CHECKING:
    from airflow_provider_intercom.sandbox.server import IntercomSandbox

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-sandbox-token"
TAG_NAME = "bench"
TAG_ID = "101"
# Bounds every subprocess the bench starts, so a hung worker cannot hang `make bench`.
SUBPROCESS_TIMEOUT = 600.0


@dataclass(frozen=True)
class Sizes:
    """How much work each row does; ``BENCH_QUICK=1`` picks :data:`QUICK`."""

    tag_contacts: int = 10_000
    unknown_share: float = 0.01
    untag_contacts: int = 2_000
    untag_workers: int = 8
    processes: int = 4
    per_process: int = 1_000
    rate_limit: int = 200
    window_seconds: int = 1
    latency_ms: int = 25
    stream_big: int = 100_000
    stream_small: int = 1_000
    import_runs: int = 7
    sync_members: int = 100_000
    sync_churn: int = 5_000
    sql_big: int = 100_000
    sql_small: int = 1_000
    label: str = "full sizes"


QUICK = Sizes(
    tag_contacts=1_000,
    untag_contacts=200,
    per_process=100,
    stream_big=5_000,
    stream_small=100,
    import_runs=3,
    sync_members=2_000,
    sync_churn=100,
    sql_big=5_000,
    sql_small=100,
    label="BENCH_QUICK sizes",
)


@dataclass(frozen=True)
class Context:
    """What a row function gets: the sizes, a scratch folder and the environment for subprocesses."""

    sizes: Sizes
    workdir: Path
    env: dict[str, str]
    python: str = sys.executable


@dataclass
class Row:
    """
    One line of the table.

    :param name: what is measured, sizes included.
    :param ours: the provider's figure (None when not measured).
    :param peer: the peer's (or baseline's) figure, measured in the same run.
    :param unit: appended to both figures.
    :param floor: the least possible figure, when there is one.
    :param note: how it was measured, what the peer is, and anything odd.
    :param problem: a correctness failure (lost items, a crash): makes ``make bench`` exit 1.
    """

    name: str
    ours: float | None = None
    peer: float | None = None
    unit: str = ""
    floor: float | None = None
    note: str = ""
    problem: bool = False

    def cells(self) -> list[str]:
        """Format the row for the table: figures, ours ÷ peer, floor (with ours ÷ floor), note."""
        ratio = self.ours / self.peer if self.ours is not None and self.peer else None
        floor = "—"
        if self.floor is not None:
            floor = fmt(self.floor, self.unit)
            if self.ours is not None and self.floor:
                floor += f" (ours {fmt_ratio(self.ours / self.floor)})"
        return [
            self.name,
            fmt(self.ours, self.unit),
            fmt(self.peer, self.unit),
            fmt_ratio(ratio),
            floor,
            self.note,
        ]


@dataclass(frozen=True)
class Bench:
    """A registered row function; ``pending`` marks a placeholder for a row not built yet."""

    title: str
    run: Callable[[Context], list[Row]]
    pending: bool = False


BENCHES: list[Bench] = []
HEADERS = ["measure", "ours", "peer", "ours ÷ peer", "floor", "note"]


def bench(title: str) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    """Register a row function, in table order; it returns one or more :class:`Row`."""

    def register(func: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        BENCHES.append(Bench(title, func))
        return func

    return register


def placeholder(title: str, note: str) -> None:
    """Reserve a row that a later change fills in; it prints as not measured."""

    def run(_: Context) -> list[Row]:
        return [Row(title, note=f"placeholder: {note}")]

    BENCHES.append(Bench(title, run, pending=True))


def fmt(value: float | None, unit: str = "") -> str:
    """Format a figure: thousands separators, about three significant digits."""
    if value is None:
        return "—"
    if isinstance(value, int) or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def fmt_ratio(ratio: float | None) -> str:
    """Format ours ÷ peer, e.g. ``0.046×``."""
    if ratio is None:
        return "—"
    if ratio >= 10:
        return f"{ratio:.0f}×"
    if ratio >= 0.1:
        return f"{ratio:.2f}×"
    return f"{ratio:.2g}×"


def table(rows: Sequence[Row]) -> str:
    """Render the rows as one GitHub-flavoured markdown table."""
    return tabulate([row.cells() for row in rows], headers=HEADERS, tablefmt="github", disable_numparse=True)


# -- sandboxes -------------------------------------------------------------------------------------------


def contact_ids(count: int, prefix: str = "65b") -> list[str]:
    """Return ``count`` contact ids of Intercom's shape, the same in every run and every sandbox."""
    return [f"{prefix}{number:021x}" for number in range(count)]


def seed(ids: Sequence[str], *, tagged: bool, untagged: Sequence[str] = ()) -> dict[str, Any]:
    """Return a sandbox seed: the bench tag, one user per id (carrying the tag when ``tagged``), then
    one user per id of ``untagged``, which never carries it."""
    users = [(contact_id, [TAG_ID] if tagged else []) for contact_id in ids]
    users += [(contact_id, []) for contact_id in untagged]
    return {
        "tags": [{"id": TAG_ID, "name": TAG_NAME}],
        "contacts": [
            {"id": contact_id, "role": "user", "email": email_of(contact_id), "tags": tags}
            for contact_id, tags in users
        ],
    }


def email_of(contact_id: str) -> str:
    """Return the email every bench contact has, derived from its id."""
    return f"{contact_id}@bench.example"


@contextmanager
def sandbox(
    ids: Sequence[str] = (), *, tagged: bool = False, untagged: Sequence[str] = (), **settings: Any
) -> Iterator[IntercomSandbox]:
    """Run a loopback sandbox seeded with ``ids`` and ``untagged``; ``settings`` go to the sandbox."""
    from airflow_provider_intercom.sandbox.server import IntercomSandbox

    settings.setdefault("rate_limit", 10**9)
    with IntercomSandbox(
        host="127.0.0.1", port=0, token=TOKEN, seed=seed(ids, tagged=tagged, untagged=untagged), **settings
    ) as box:
        yield box


def connection_env(box: IntercomSandbox, conn_id: str, api_version: str = "2.11") -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_<ID>`` variable that points ``conn_id`` at a sandbox."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(box.airflow_connection(api_version))}


def still_tagged(box: IntercomSandbox, ids: Sequence[str]) -> int:
    """Count the contacts among ``ids`` that still carry the bench tag."""
    with box.state.lock:
        return sum(TAG_ID in box.state.contacts[contact_id].tags for contact_id in ids)


def statuses(entries: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Return ``(answered without 429, 429 answers)`` of request-log entries."""
    refused = sum(entry["status"] == 429 for entry in entries)
    return len(entries) - refused, refused


@dataclass
class Worker:
    """A bench subprocess that prints ``ready``, waits for ``go`` on stdin and prints one JSON line."""

    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the subprocess (``python -m benchmarks.worker ...``), its stderr into :attr:`log`."""
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.worker", *self.args],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )

    def wait_ready(self) -> None:
        """Block until the worker has imported everything and is ready to start."""
        assert self.process is not None
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"worker {self.args[0]} did not start ({line!r}); see {self.log}")

    def go(self) -> None:
        """Tell the worker to start its work."""
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        """Wait (bounded) for the worker's JSON result line."""
        assert self.process is not None
        try:
            out, _ = self.process.communicate(timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        lines = [line for line in out.splitlines() if line.strip()]
        if self.process.returncode != 0 or not lines:
            raise RuntimeError(
                f"worker {self.args[0]} failed (exit {self.process.returncode}); see {self.log}"
            )
        return json.loads(lines[-1])


def run_together(workers: Sequence[Worker]) -> tuple[float, float, list[dict[str, Any]]]:
    """Start workers, release them together once all are ready; return (go time, last end, results)."""
    import time

    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.wait_ready()
        started = time.time()
        for worker in workers:
            worker.go()
        results = [worker.result() for worker in workers]
    finally:
        for worker in workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
    ended = max(float(result["end"]) for result in results)
    return started, ended, results


def run_json(args: Sequence[str], env: dict[str, str]) -> Any:
    """Run a short subprocess (bounded) and return the JSON of its last stdout line."""
    done = subprocess.run(
        list(args), cwd=REPO, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_env(workdir: Path) -> dict[str, str]:
    """Return the environment every bench process uses: its own AIRFLOW_HOME, quiet task logs."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(workdir / "airflow_home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Retries and progress lines would bury the table; errors still show.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "ERROR"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
    )
    return env
