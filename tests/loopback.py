"""The one place tests pick a loopback port for a server they start (PostgreSQL, Redis, Airflow)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
