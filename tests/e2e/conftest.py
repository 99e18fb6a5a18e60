"""
Fixtures of the browser tests: an Airflow 3 API server on loopback, and headless Debian Chromium.

These tests run only through ``make e2e`` (``-m e2e``; pyproject's addopts deselect them otherwise). They
fail, never skip, when Chromium or Playwright is missing: a browser test that silently does nothing would
prove nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.airflow_runs import api_server_healthy
from tests.loopback import free_port

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
# Chromium's background services try to reach Google, which this machine's closed network refuses.
# Playwright adds --headless and --user-data-dir (a fresh profile under the test's tmp_path).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 1000}
UI_TIMEOUT_MS = 30_000
SERVER_START_TIMEOUT_S = 120.0
USERNAME = "admin"
_API_SERVER_SCRIPT = Path(__file__).with_name("api_server.py")


@dataclass
class AirflowServer:
    """A running ``airflow api-server``: its base URL, log file and process."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of the server's log, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def airflow_env() -> dict[str, str]:
    """
    Environment of a throwaway Airflow home, with its metadata DB migrated.

    The home lies under the suite's AIRFLOW_HOME (tests/conftest.py), so the suite's token-leak check reads
    everything the API server writes: its log, airflow.cfg and the SQLite DB with the saved connection.
    """
    home = Path(os.environ["AIRFLOW_HOME"]) / "e2e-api-server"
    home.mkdir()
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({USERNAME: secrets.token_urlsafe(12)}))
    # Only this test's settings: the suite's unit-test mode and DAG folder are no business of the server's.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USERNAME}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
    )
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return env


@pytest.fixture(scope="session")
def admin_password(airflow_env: dict[str, str]) -> str:
    """The password of the UI user ``admin``."""
    passwords = json.loads(Path(airflow_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
    return str(passwords[USERNAME])


def _wait_until_ready(server: AirflowServer) -> None:
    """Poll the health endpoint until it answers, the process dies, or the time is up."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"airflow api-server exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        if api_server_healthy(server.url):
            return
        time.sleep(0.25)
    raise RuntimeError(
        f"airflow api-server not ready after {SERVER_START_TIMEOUT_S:.0f} s:\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The server runs in its own process group, which holds only what it started.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def start_airflow_server(airflow_env: dict[str, str]) -> Iterator[Callable[..., AirflowServer]]:
    """
    Start ``airflow api-server`` processes on free loopback ports; all are stopped at the end of the session.

    ``start(backport=True)`` runs it through ``api_server.py``, which applies the fix of apache/airflow#73298
    when the installed Airflow lacks it; ``backport=False`` runs the stock command.
    """
    started: list[AirflowServer] = []

    def start(backport: bool) -> AirflowServer:
        port = free_port()
        name = "api-server-backport" if backport else "api-server-stock"
        log = Path(airflow_env["AIRFLOW_HOME"]) / f"{name}.log"
        command = [str(_API_SERVER_SCRIPT)] if backport else ["-m", "airflow", "api-server"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                # One worker: uvicorn then serves from the process that api_server.py patched.
                [sys.executable, *command, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                env=airflow_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = AirflowServer(url=f"http://127.0.0.1:{port}", log=log, process=process)
        started.append(server)
        _wait_until_ready(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            _stop(server.process)


@pytest.fixture(scope="session")
def airflow_server(start_airflow_server: Callable[..., AirflowServer]) -> AirflowServer:
    """The API server the form tests use, with the Test button's port fix applied when needed."""
    return start_airflow_server(backport=True)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """A headless Debian Chromium with a fresh profile; Playwright downloads no browser of its own."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make e2e` (installs Debian's chromium) or apt-get it")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            locale="en-US",
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def log_in(page: Page, server: AirflowServer, password: str) -> None:
    """Sign in through the simple auth manager's login page and wait for the main navigation."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Admin")).to_be_visible()
