"""
The HTTP side of the sandbox, and only that: ``http.server`` plumbing around the request pipeline.

A threaded server reads each request, hands it to the pipeline and writes the answer, on kept-alive
connections it closes at stop. ``IntercomSandbox`` and ``DEFAULT_LATE_MS`` are still importable from here,
as they were before the sandbox was split into modules.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_intercom.sandbox.errors import ParameterInvalid
from airflow_provider_intercom.sandbox.faults import DEFAULT_LATE_MS
from airflow_provider_intercom.sandbox.pipeline import Outcome, RequestPipeline
from airflow_provider_intercom.sandbox.routing import ApiRequest, ApiResponse

# IntercomSandbox is served by __getattr__ below.
__all__ = ["DEFAULT_LATE_MS", "SandboxHTTPServer", "SandboxRequestHandler"]


def __getattr__(name: str) -> Any:
    # Lazily, because app.py imports this module to start its server.
    if name == "IntercomSandbox":
        from airflow_provider_intercom.sandbox.app import IntercomSandbox

        return IntercomSandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SandboxHTTPServer(ThreadingHTTPServer):
    """
    A threaded HTTP server that knows its pipeline and its open connections.

    :param address: ``(host, port)``; port 0 picks a free port.
    :param pipeline: Answers each request.
    :param verbose: Tells whether to write the access log; asked for each request, so it may change.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], pipeline: RequestPipeline, verbose: Callable[[], bool]
    ) -> None:
        self.pipeline = pipeline
        self.verbose = verbose
        # Set while stopping, so answers held back by ``late`` faults are released at once.
        self.stopping = threading.Event()
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """
        Report a handler's error on stderr, unless the client just went away.

        A client killed mid-request, or one that gave up waiting for a late answer, resets its
        connection: that is no fault of the sandbox, and a traceback for it would only be noise.

        :param request: The client's socket.
        :param client_address: The client's address.
        """
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)

    def stop(self) -> None:
        """Stop serving: release late answers, end the serve loop, close every connection and the port."""
        self.stopping.set()
        self.shutdown()
        self._close_open_connections()
        self.server_close()

    def _close_open_connections(self) -> None:
        # Shut down kept-alive client connections so handler threads end with the server.
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            # The client may have closed it already.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Answer one connection's requests, with keep-alive (HTTP/1.1) and without Nagle's delay."""

    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY a small response waits for the client's delayed ACK: ~40 ms per exchange.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def setup(self) -> None:
        """Register the connection so :meth:`SandboxHTTPServer.stop` can close it."""
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        """Unregister the connection."""
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """
        Write the access log only in verbose mode.

        :param format: printf-style format.
        :param args: Its arguments.
        """
        if self.server.verbose():
            super().log_message(format, *args)

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        received_at = time.time()
        unreadable: ParameterInvalid | None = None
        try:
            raw_body = self._read_body()
        except ValueError as error:
            raw_body, unreadable = b"", ParameterInvalid(str(error))
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        request = ApiRequest(self.command, url.path, query, raw_body, self._headers(), received_at)
        pipeline = self.server.pipeline
        self._send(pipeline.answer(request) if unreadable is None else pipeline.refuse(request, unreadable))

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            # The first of a repeated header counts, as with the headers' own get().
            headers.setdefault(name.lower(), value)
        return headers

    def _send(self, outcome: Outcome) -> None:
        if outcome.close:
            self.close_connection = True
        if outcome.late_seconds is None:
            self._write(outcome.response)
            return
        # Wake early when the sandbox stops, so a late answer never holds up stop().
        self.server.stopping.wait(outcome.late_seconds)
        try:
            self._write(outcome.response)
        except OSError:
            # The client gave up waiting and closed its end.
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked_body()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        if not length_text.strip().isdigit():
            raise ValueError("Content-Length is not a number")
        return self.rfile.read(int(length_text))

    def _read_chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline(65_537).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ValueError("malformed chunked body") from None
            if size == 0:
                # Skip trailers up to the blank line.
                while self.rfile.readline(65_537).strip():
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65_537)

    def _write(self, response: ApiResponse) -> None:
        if response.status is None:
            # A dropped connection: close without a byte of answer, as a crashed upstream would.
            self.close_connection = True
            return
        self.send_response(response.status)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.payload)
