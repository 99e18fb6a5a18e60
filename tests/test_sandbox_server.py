"""The HTTP server: keep-alive, resets, malformed requests, concurrency, stop."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
import requests

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import TIMEOUT, TOKEN, Api

pytest_plugins = ["tests.sandbox_fixtures"]


def test_keep_alive_without_nagle_delay(api: Api) -> None:
    # With Nagle's algorithm on, each exchange waits ~40 ms for a delayed ACK: 40 requests would take 1.6 s+.
    api("GET", "/tags")
    started = time.monotonic()
    for _ in range(40):
        assert api("GET", "/tags").status_code == 200
    assert time.monotonic() - started < 1.2


def test_a_client_that_resets_its_connection_leaves_no_traceback(
    sandbox: IntercomSandbox, api: Api, capfd: pytest.CaptureFixture[str]
) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=TIMEOUT) as connection:
        # Linger 0: close() sends a reset, as the kernel does for a killed process with unread data.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.sendall(b"GET /tags HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert api("GET", "/tags").status_code == 200
    time.sleep(0.2)
    assert "Traceback" not in capfd.readouterr().err


def test_malformed_content_length_is_a_400_not_a_crash(sandbox: IntercomSandbox) -> None:
    request = (
        f"POST /tags HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Length: abc\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=TIMEOUT) as connection:
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")


def test_concurrent_requests_are_applied_atomically(sandbox: IntercomSandbox) -> None:
    def create_tags(worker: int) -> None:
        client = Api(sandbox)
        for number in range(15):
            assert client("POST", "/tags", json={"name": f"shared-{number}"}).status_code == 200
            assert client("POST", "/tags", json={"name": f"worker{worker}-{number}"}).status_code == 200

    threads = [threading.Thread(target=create_tags, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    names = [tag.name for tag in sandbox.state.tags.values()]
    assert len(names) == len(set(names)) == 2 + 15 + 6 * 15


def test_stop_closes_the_port() -> None:
    sandbox = IntercomSandbox(token=TOKEN).start()
    url = sandbox.url
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/tags", timeout=TIMEOUT)
