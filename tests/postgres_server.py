"""
A throwaway PostgreSQL server for the tests, started from Debian's server binaries.

A test module loads the fixtures with ``pytest_plugins = ["tests.postgres_server"]``, as with
``tests.sandbox_fixtures``. ``postgres_server`` starts one server per session, on a free loopback port,
in a temporary directory; ``postgres_conn_id`` gives each test its own fresh database as the
Airflow connection ``warehouse_pg``. Without the server binaries, the tests that use them skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from tests.loopback import free_port

NOT_INSTALLED = "PostgreSQL server not installed: run `make test` as root, or apt-get install postgresql"
# initdb names the superuser after the OS user by default; naming it keeps the URI the same for every user.
SUPERUSER = "postgres"
START_TIMEOUT_S = 30


@dataclass(frozen=True)
class PostgresServer:
    """Where the session's server listens; every database on it trusts ``user`` without a password."""

    host: str
    port: int
    user: str
    directory: Path
    database: str = "postgres"

    @property
    def uri(self) -> str:
        return self.uri_for(self.database)

    def uri_for(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


def _server_bin_dir() -> Path | None:
    """Find the directory of ``initdb`` and ``pg_ctl``: Debian's newest major version, else PATH."""

    def major(path: str) -> float:
        name = Path(path).parents[1].name
        return float(name) if name.replace(".", "", 1).isdigit() else 0.0

    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major, reverse=True):
        if os.access(Path(initdb).with_name("pg_ctl"), os.X_OK):
            return Path(initdb).parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl", path=str(Path(on_path).parent)):
        return Path(on_path).parent
    return None


def _run_as() -> dict[str, Any]:
    """Return subprocess arguments for an unprivileged user: initdb and postgres refuse to run as root."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam("postgres")  # created by Debian's postgresql package
    except KeyError:
        pytest.skip("Running as root and there is no `postgres` user to run the PostgreSQL server as")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _run(command: list[str], run_as: dict[str, Any], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd: the unprivileged user may not be able to enter the directory pytest runs in.
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30, **run_as
    )


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Run a throwaway PostgreSQL server on loopback in a temporary directory; stop and remove it after."""
    bin_dir = _server_bin_dir()
    if bin_dir is None:
        raise PostgresNotInstalled(NOT_INSTALLED)
    run_as = _run_as()
    directory = Path(tempfile.mkdtemp(prefix="intercom-tests-pg-"))
    data, log = directory / "data", directory / "server.log"
    started = False
    try:
        if run_as:
            os.chown(directory, run_as["user"], run_as["group"])
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust"]
        done = _run([*initdb, "--encoding=UTF8", "--locale=C", "--no-sync"], run_as, directory)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}{done.stderr}")
        port = free_port()
        # Loopback only, its socket in our directory (not /var/run/postgresql), no fsync: throwaway data.
        options = f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log)]
        started = True  # from here on, stop it, even if it never became ready
        done = _run([*pg_ctl, "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start"], run_as, directory)
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else "(no server log)"
            waited = f"waited up to {START_TIMEOUT_S} s"
            raise RuntimeError(f"PostgreSQL did not start ({waited}):\n{done.stderr}\n{server_log}")
        yield PostgresServer(host="127.0.0.1", port=port, user=SUPERUSER, directory=directory)
    finally:
        if started:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"], run_as, directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The suite's throwaway server; its tests skip, with the reason, where PostgreSQL is not installed."""
    if _server_bin_dir() is None:
        pytest.skip(NOT_INSTALLED)
    with running_postgres() as server:
        yield server


def _admin(server: PostgresServer, statement: sql.Composable) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction.
    connection = psycopg2.connect(server.uri)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def postgres_conn_id(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Give the test a fresh, empty database as the Airflow connection ``warehouse_pg``."""
    database = f"warehouse_{uuid.uuid4().hex[:12]}"
    _admin(postgres_server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_PG", postgres_server.uri_for(database))
    yield "warehouse_pg"
    # FORCE: a hook the test left open would otherwise keep the database from being dropped.
    _admin(postgres_server, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
