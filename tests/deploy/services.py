"""
The deployment test's backing services, from Debian's packages: PostgreSQL (``tests.postgres_server``)
and a Redis broker, each on a free loopback port in a temporary directory, stopped and removed after.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.loopback import free_port

REDIS_SERVER = "redis-server"
NO_REDIS = "redis-server not installed: run `make e2e-deploy` as root, or apt-get install redis-server"
START_TIMEOUT_S = 30.0


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis() -> Iterator[str]:
    """
    Run a throwaway Redis on loopback, without persistence; yield its URL, then stop it and remove its files.

    :raises RuntimeError: if redis-server is missing or does not answer within ``START_TIMEOUT_S``.
    """
    binary = shutil.which(REDIS_SERVER)
    if binary is None:
        raise RuntimeError(NO_REDIS)
    directory = Path(tempfile.mkdtemp(prefix="intercom-deploy-redis-"))
    port = free_port()
    log = directory / "redis.log"
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)]
    # A broker for one test run: nothing to keep on disk.
    command += ["--save", "", "--appendonly", "no", "--logfile", str(log)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _redis_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
                raise RuntimeError(f"redis-server did not start on port {port}:\n{tail}")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
