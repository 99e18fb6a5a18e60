"""
Command line: run the Intercom sandbox until SIGINT or SIGTERM.

``python -m airflow_provider_intercom.sandbox --port 8111 --token TOKEN --seed demo_seed.json``

With a command after ``--``, the sandbox serves only while that command runs, and the command gets
``AIRFLOW_CONN_INTERCOM_DEFAULT`` pointing at it: ``... --port 0 --seed demo -- python my_script.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from airflow_provider_intercom.sandbox.app import IntercomSandbox
from airflow_provider_intercom.sandbox.faults import (
    DEFAULT_LATE_MS,
    RANDOM_FAULT_KINDS,
    RANDOM_FAULT_MIX,
    parse_fault_kinds,
)
from airflow_provider_intercom.sandbox.ratelimit import DEFAULT_LIMIT, DEFAULT_WINDOW_SECONDS

DEMO_SEED = Path(__file__).with_name("demo_seed.json")
# The options passed to IntercomSandbox under their own name (--fault-429-reset is renamed).
SANDBOX_OPTIONS = (
    "host",
    "port",
    "token",
    "seed",
    "rate_limit",
    "window_seconds",
    "latency_ms",
    "fault_rate",
    "fault_seed",
    "fault_kinds",
    "late_ms",
    "verbose",
)


def build_parser() -> argparse.ArgumentParser:
    """
    Describe the command-line options.

    :return: The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_intercom.sandbox",
        description="Run a local fake of Intercom's REST API (tags, contacts, companies, search, /me).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8111, help="port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--token", default="sandbox-token", help="accepted Bearer token (default: %(default)s)"
    )
    parser.add_argument("--seed", type=_seed_path, help="JSON seed file, or 'demo' for the bundled demo data")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_LIMIT, help="requests per window")
    parser.add_argument(
        "--window-seconds", type=int, default=DEFAULT_WINDOW_SECONDS, help="rate-limit window"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every response")
    _add_fault_options(parser)
    parser.add_argument("--verbose", action="store_true", help="write the access log to stderr")
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="after --: a command to run with AIRFLOW_CONN_INTERCOM_DEFAULT pointing at the sandbox; "
        "the sandbox stops when it exits, with its exit status",
    )
    return parser


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    # The random faults, and how late and 429 faults answer.
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests given a random fault"
    )
    parser.add_argument("--fault-seed", type=int, help="seed of the random faults, for repeatable runs")
    parser.add_argument(
        "--fault-kinds",
        type=_fault_kinds,
        default=RANDOM_FAULT_MIX,
        help="comma-separated kinds random faults are drawn from, evenly; any of "
        f"{','.join(RANDOM_FAULT_KINDS)} (default: {','.join(RANDOM_FAULT_MIX)})",
    )
    parser.add_argument(
        "--late-ms",
        type=_non_negative,
        default=DEFAULT_LATE_MS,
        help="how long late and late_drop faults hold the answer after the request took effect "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--fault-429-reset",
        type=_reset_seconds,
        default=1.0,
        metavar="SECONDS|window",
        help="X-RateLimit-Reset of injected 429s: seconds ahead, or 'window' for the end of the current "
        "rate-limit window (default: %(default)s)",
    )


def _seed_path(value: str) -> Path:
    return DEMO_SEED if value == "demo" else Path(value)


def _fault_kinds(value: str) -> tuple[str, ...]:
    try:
        return parse_fault_kinds(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a number of at least 0")
    return number


def _reset_seconds(value: str) -> float | None:
    return None if value == "window" else _non_negative(value)


def run_command(sandbox: IntercomSandbox, command: Sequence[str]) -> int:
    """
    Run a command against the started sandbox and return its exit status.

    :param sandbox: The running sandbox.
    :param command: The program and its arguments.
    :return: The command's exit status.
    """
    env = {**os.environ, "AIRFLOW_CONN_INTERCOM_DEFAULT": json.dumps(sandbox.airflow_connection())}
    return subprocess.run(list(command), env=env, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the sandbox in the foreground.

    :param argv: Arguments; ``sys.argv[1:]`` when None.
    :return: The exit status.
    """
    options = build_parser().parse_args(argv)
    settings = {name: getattr(options, name) for name in SANDBOX_OPTIONS}
    sandbox = IntercomSandbox(**settings, injected_429_reset_seconds=options.fault_429_reset)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    with sandbox:
        print(f"Intercom sandbox listening on {sandbox.url}", flush=True)
        if command:
            return run_command(sandbox, command)
        # A timed wait lets the main thread run the signal handlers promptly.
        while not stop_requested.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
