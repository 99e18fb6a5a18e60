"""
A distributed Airflow 3 on this machine: the CeleryExecutor with a PostgreSQL metadata database and a Redis
broker, and the scheduler, DAG processor, triggerer, API server and two Celery workers, each its own
process group with its own log file, as a deployment runs them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from tests.airflow_runs import api_server_healthy
from tests.loopback import free_port

REPO = Path(__file__).resolve().parents[2]
USERNAME = "admin"
WORKERS = ("deploy-worker-1", "deploy-worker-2")
WORKER_CONCURRENCY = 3
START_TIMEOUT_S = 180.0


class ComponentDied(RuntimeError):
    """An Airflow component exited while the deployment was running."""


@dataclass
class Component:
    """One running Airflow process: its name, process (a group leader) and log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        """Return the whole log."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        """Return the end of the log, for failure messages."""
        return "\n".join(self.text().splitlines()[-lines:])


@dataclass
class AirflowDeployment:
    """
    The Airflow home, the environment every component shares, and the components once started.

    :param home: the AIRFLOW_HOME (config, logs, the DAG folder of symlinks).
    :param database_uri: the metadata database (``postgresql://user@host:port/db``).
    :param broker_url: the Celery broker (``redis://...``).
    :param extra_env: more variables for every component (e.g. ``AIRFLOW_CONN_...``).
    """

    home: Path
    database_uri: str
    broker_url: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    components: list[Component] = field(default_factory=list)
    api_port: int = field(default_factory=free_port)
    _token: str | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @cached_property
    def environment(self) -> dict[str, str]:
        """The settings every component shares, made once; none of this process's Airflow settings."""
        passwords = self.home / "simple_auth_manager_passwords.json"
        passwords.write_text(json.dumps({USERNAME: secrets.token_urlsafe(12)}))
        jwt_secret = secrets.token_urlsafe(32)
        database = self.database_uri.replace("postgresql://", "postgresql+psycopg2://", 1)
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(self.home),
            PYTHONPATH=str(REPO),  # the workers' hostname callable lives in tests/deploy
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.api_url}/execution/",
            AIRFLOW__API__BASE_URL=self.api_url,
            AIRFLOW__API_AUTH__JWT_SECRET=jwt_secret,
            AIRFLOW__API__SECRET_KEY=jwt_secret,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database,
            AIRFLOW__CELERY__BROKER_URL=self.broker_url,
            AIRFLOW__CELERY__RESULT_BACKEND=f"db+{database}",
            AIRFLOW__CORE__AUTH_MANAGER=(
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USERNAME}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
            # New DAG files are listed at once, and a run's next tasks are queued without delay.
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        )
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, timeout: float = 300) -> str:
        """Run one ``airflow`` CLI command to completion; return its output, or raise with it."""
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout[-3000:] + result.stderr[-3000:]
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{output}")
        return result.stdout

    def link_dags(self, *files: Path) -> None:
        """Put the DAG files in the deployment's DAG folder (as symlinks: one copy of each)."""
        folder = self.home / "dags"
        folder.mkdir(exist_ok=True)
        for path in files:
            (folder / path.name).symlink_to(path)

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Component:
        """Start ``airflow <args>`` in its own process group, its output to ``<home>/<name>.log``."""
        log = self.home / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env={**self.environment, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        component = Component(name, process, log)
        self.components.append(component)
        return component

    def start_all(self) -> None:
        """Start the serving components and both workers; return once the API server answers."""
        address = ("--host", "127.0.0.1", "--port", str(self.api_port))
        self.start("api-server", "api-server", *address, "--workers", "1")
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        # PYTHONASYNCIODEBUG names the coroutine when one holds the event loop too long.
        self.start("triggerer", "triggerer", env={"PYTHONASYNCIODEBUG": "1"})
        for worker in WORKERS:
            self.start(
                worker,
                *("celery", "worker", "--celery-hostname", f"{worker}@%h"),
                *("--concurrency", str(WORKER_CONCURRENCY), "--skip-serve-logs"),
                env={
                    "DEPLOY_WORKER_NAME": worker,
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.deploy.worker_hostname.hostname",
                },
            )
        self._wait_for_api()

    def _wait_for_api(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            if api_server_healthy(self.api_url):
                return
            time.sleep(0.5)
        tail = self.component("api-server").tail()
        raise RuntimeError(f"the API server did not answer in {START_TIMEOUT_S:.0f} s:\n{tail}")

    def component(self, name: str) -> Component:
        return next(component for component in self.components if component.name == name)

    def check_alive(self) -> None:
        """Raise, with the end of its log, if any component has exited."""
        for component in self.components:
            if component.process.poll() is not None:
                raise ComponentDied(
                    f"{component.name} exited with {component.process.returncode}:\n{component.tail()}"
                )

    def stop_all(self) -> None:
        """Stop every component (SIGTERM to its group, SIGKILL after 30 s), workers first."""
        for component in reversed(self.components):
            if component.process.poll() is None:
                os.killpg(component.process.pid, signal.SIGTERM)
        for component in reversed(self.components):
            try:
                component.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(component.process.pid, signal.SIGKILL)
                component.process.wait(timeout=10)

    # -- the REST API, as a user's scripts call it ------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """Call the public REST API (``/api/v2/...``) as the admin user; return the decoded answer."""
        url = f"{self.api_url}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token()}"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path} answered {error.code}: {error.read()[:2000]!r}") from None

    def token(self) -> str:
        if self._token is None:
            password = json.loads((self.home / "simple_auth_manager_passwords.json").read_text())[USERNAME]
            request = urllib.request.Request(
                f"{self.api_url}/auth/token",
                data=json.dumps({"username": USERNAME, "password": password}).encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                self._token = str(json.loads(answer.read())["access_token"])
        return self._token
