"""
The HTTP side of the sandbox: a threaded server, its request handler and :class:`IntercomSandbox`.

Each request goes through the same steps: read the body, take a fault if one is due, check the Bearer
token (401 without rate-limit headers), count it against the rate limit (429 when over), check the
``Intercom-Version`` header, then run the route. Every step's answer is logged in the state's request log.
A ``late`` fault holds the route's answer back for ``late_ms`` after the route ran; ``late_drop`` then
closes the connection instead of answering.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_intercom.sandbox import render
from airflow_provider_intercom.sandbox.faults import LATE_FAULTS, Fault, FaultInjector, FaultSpec
from airflow_provider_intercom.sandbox.models import SandboxState
from airflow_provider_intercom.sandbox.ratelimit import (
    DEFAULT_LIMIT,
    DEFAULT_WINDOW_SECONDS,
    FixedWindowRateLimiter,
)
from airflow_provider_intercom.sandbox.routes import ApiRequest, ApiResponse, router

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
DEFAULT_LATE_MS = 3000.0
HTML_OUTAGE_PAGE = (
    b"<html><body><h1>502 Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>"
)
# Bodies and messages of the scripted/random status faults, with codes from Intercom's error code list.
STATUS_FAULT_ERRORS = {
    "500": ("server_error", "Internal Server Error"),
    "502": ("server_error", "Bad Gateway"),
    "503": ("service_unavailable", "Service Unavailable"),
    "408": ("request_timeout", "Request Timeout"),
}


class SandboxHTTPServer(ThreadingHTTPServer):
    """
    A threaded HTTP server that knows its sandbox and its open connections.

    :param address: ``(host, port)``; port 0 picks a free port.
    :param sandbox: The sandbox whose state and settings the handler uses.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: IntercomSandbox) -> None:
        self.sandbox = sandbox
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

    def close_open_connections(self) -> None:
        """Shut down kept-alive client connections so handler threads end with the server."""
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
        """Register the connection so :meth:`IntercomSandbox.stop` can close it."""
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
        if self.server.sandbox.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        sandbox = self.server.sandbox
        received_at = time.time()
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        version = (self.headers.get("Intercom-Version") or render.DEFAULT_VERSION).strip()
        raw_body = b""
        fault: Fault | None = None
        try:
            raw_body = self._read_body()
        except ValueError as error:
            self.close_connection = True
            reply = Reply.json(400, render.error_body("parameter_invalid", str(error)))
        else:
            request = ApiRequest(
                method=self.command,
                path=url.path,
                query=query,
                raw_body=raw_body,
                version=version,
                request_id=str(uuid.uuid4()),
            )
            try:
                reply, fault = self._answer(sandbox, request)
            except Exception:
                # A bug in the sandbox, not in the client: say so, like a real server would.
                traceback.print_exc(file=sys.stderr)
                self.close_connection = True
                reply = Reply.json(500, render.error_body("server_error", "Sandbox internal error"))
        late = fault if fault is not None and fault.kind in LATE_FAULTS else None
        if late is not None and late.kind == "late_drop":
            # The route ran and its change stays; only the answer is lost.
            reply = Reply(None)
        reset_header = reply.headers.get("X-RateLimit-Reset")
        # Log before answering: a client reading the log right after its answer must find its request.
        sandbox.state.log_request(
            {
                "method": self.command,
                "path": url.path,
                "query": {name: values[-1] for name, values in query.items()},
                "status": reply.status,
                "version": version,
                "body": _parsed_json(raw_body),
                "time": received_at,
                "reset_at": None if reset_header is None else int(reset_header),
                "fault": None if fault is None else fault.kind,
            }
        )
        if late is not None:
            # Wake early when the sandbox stops, so a late answer never holds up stop().
            sandbox.stopping.wait((sandbox.late_ms if late.delay_ms is None else late.delay_ms) / 1000)
            try:
                self._write(reply)
            except OSError:
                # The client gave up waiting and closed its end.
                self.close_connection = True
            return
        self._write(reply)

    def _answer(self, sandbox: IntercomSandbox, request: ApiRequest) -> tuple[Reply, Fault | None]:
        fault = sandbox.faults.next_fault(request.path)
        delay_ms = sandbox.latency_ms
        if fault is not None and fault.kind == "delay":
            delay_ms += fault.delay_ms or 0.0
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if fault is not None and fault.skips_request:
            return _fault_reply(sandbox, fault), fault
        return self._run(sandbox, request), fault

    def _run(self, sandbox: IntercomSandbox, request: ApiRequest) -> Reply:
        if not self._authorized(sandbox.token):
            # Intercom sends no rate-limit headers to a request without valid credentials.
            return Reply.json(
                401, render.error_body("unauthorized", "Access Token Invalid", request.request_id)
            )
        decision = sandbox.rate_limiter.hit()
        rate_headers = decision.headers()
        if not decision.allowed:
            message = sandbox.rate_limiter.exceeded_message()
            body = render.error_body("rate_limit_exceeded", message, request.request_id)
            return Reply.json(429, body, rate_headers)
        if request.version not in render.SUPPORTED_VERSIONS:
            message = f"Intercom-Version {request.version!r} is not valid"
            return Reply.json(
                400, render.error_body("intercom_version_invalid", message, request.request_id), rate_headers
            )
        response: ApiResponse = router.dispatch(sandbox.state, request)
        return Reply.json(response.status, response.body, {**rate_headers, **response.headers})

    def _authorized(self, token: str) -> bool:
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and credentials.strip() == token

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

    def _write(self, reply: Reply) -> None:
        if reply.status is None:
            # A dropped connection: close without a byte of answer, as a crashed upstream would.
            self.close_connection = True
            return
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.payload)


@dataclass(frozen=True)
class Reply:
    """
    An answer ready to be written.

    :param status: HTTP status; None to drop the connection without answering.
    :param payload: Body bytes.
    :param content_type: Content-Type, or None when there is no content.
    :param headers: Extra headers.
    """

    status: int | None
    payload: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> Reply:
        """
        Build a JSON answer, or an answer without content when ``body`` is None.

        :param status: HTTP status.
        :param body: The JSON body, or None for "Successful" with no content (e.g. DELETE /tags/{id}).
        :param headers: Extra headers.
        :return: The reply.
        """
        if body is None:
            return cls(status, b"", None, headers or {})
        return cls(status, json.dumps(body).encode(), JSON_CONTENT_TYPE, headers or {})


def _fault_reply(sandbox: IntercomSandbox, fault: Fault) -> Reply:
    if fault.kind == "drop":
        return Reply(None)
    if fault.kind == "empty200":
        return Reply(200, b"", JSON_CONTENT_TYPE)
    if fault.kind == "html200":
        return Reply(200, HTML_OUTAGE_PAGE, "text/html; charset=utf-8")
    if fault.kind == "429":
        limiter = sandbox.rate_limiter
        headers = {
            "X-RateLimit-Limit": str(limiter.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(sandbox.injected_429_reset_at()),
        }
        return Reply.json(429, render.error_body("rate_limit_exceeded", limiter.exceeded_message()), headers)
    code, message = STATUS_FAULT_ERRORS[fault.kind]
    return Reply.json(int(fault.kind), render.error_body(code, message))


def _parsed_json(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body) if raw_body.strip() else None
    except (UnicodeDecodeError, ValueError):
        return None


class IntercomSandbox:
    """
    A local fake of Intercom's REST API for tests, demos and offline DAG runs.

    :param host: Interface to listen on.
    :param port: Port; 0 picks a free one (read it back from :attr:`url`).
    :param token: The only access token accepted (``Authorization: Bearer <token>``).
    :param seed: Initial data, a mapping or the path of a JSON seed file (see ``SandboxState.load_seed``).
    :param rate_limit: Requests allowed per window.
    :param window_seconds: Rate-limit window length in whole seconds, aligned to the Unix epoch.
    :param latency_ms: Delay added to every response.
    :param fault_rate: Fraction of requests, in [0, 1], given a random fault drawn from ``fault_kinds``.
    :param fault_seed: Seed of the random faults: the same seed gives the same fault decisions for the same
        sequence of requests.
    :param fault_kinds: The kinds random faults are drawn from, evenly: a comma-separated string or an
        iterable of ``429 500 502 503 408 drop late late_drop empty200 html200``; None for the default mix
        ``429 500 502 503 drop late late_drop empty200``.
    :param late_ms: How long ``late`` and ``late_drop`` faults hold the answer after the request took effect.
    :param injected_429_reset_seconds: How far ahead ``X-RateLimit-Reset`` is on injected 429s (rounded up
        to a whole second); None for the end of the rate limiter's current window, as a real 429 says.
    :param verbose: Write the access log to stderr.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "sandbox-token",
        seed: dict[str, Any] | str | Path | None = None,
        rate_limit: int = DEFAULT_LIMIT,
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
        latency_ms: float = 0,
        fault_rate: float = 0.0,
        fault_seed: int | None = None,
        fault_kinds: str | Iterable[str] | None = None,
        late_ms: float = DEFAULT_LATE_MS,
        injected_429_reset_seconds: float | None = 1.0,
        verbose: bool = False,
    ) -> None:
        if late_ms < 0:
            raise ValueError(f"late_ms must not be negative, got {late_ms}")
        if injected_429_reset_seconds is not None and injected_429_reset_seconds < 0:
            raise ValueError(
                f"injected_429_reset_seconds must not be negative, got {injected_429_reset_seconds}"
            )
        self.host = host
        self._requested_port = port
        self._token = token
        self._state = SandboxState(seed)
        self.rate_limiter = FixedWindowRateLimiter(rate_limit, window_seconds)
        self.faults = FaultInjector(fault_rate, fault_seed, fault_kinds)
        self.latency_ms = latency_ms
        self.late_ms = late_ms
        self.injected_429_reset_seconds = injected_429_reset_seconds
        self.verbose = verbose
        # Set while stopping, so answers held back by ``late`` faults are released at once.
        self.stopping = threading.Event()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def token(self) -> str:
        """
        Return the access token the sandbox accepts.

        :return: The token.
        """
        return self._token

    @property
    def state(self) -> SandboxState:
        """
        Return the in-memory state, for tests to seed or inspect.

        :return: The state.
        """
        return self._state

    @property
    def requests(self) -> list[dict[str, Any]]:
        """
        Return a copy of the request log, one entry per request, oldest first.

        Each entry is ``{"method", "path", "query", "status", "version", "body", "time", "reset_at",
        "fault"}``: ``query`` maps each query-string parameter to its last value (e.g. ``{"tag_id": "7"}``),
        ``status`` is None for a dropped connection (``drop`` and ``late_drop``), ``body`` the parsed JSON
        body of any method (DELETE and PUT included), ``time`` the arrival time (Unix seconds), ``reset_at``
        the ``X-RateLimit-Reset`` answered (None when none was sent) and ``fault`` the kind of fault the
        request got (None for none). A ``late`` request is logged when it took effect, before its answer.

        :return: The log.
        """
        return self._state.request_log

    def injected_429_reset_at(self) -> int:
        """
        Return the ``X-RateLimit-Reset`` of an injected 429.

        :return: Unix seconds: ``injected_429_reset_seconds`` from now rounded up, or the end of the rate
            limiter's current window when that setting is None.
        """
        if self.injected_429_reset_seconds is None:
            return self.rate_limiter.window_end()
        return math.ceil(time.time() + self.injected_429_reset_seconds)

    def airflow_connection(self, api_version: str = "2.11") -> dict[str, Any]:
        """
        Return an Airflow connection (JSON form) that points at this sandbox.

        Export it as ``AIRFLOW_CONN_<ID>`` (JSON-encoded) to run DAGs or hooks against the sandbox.

        :param api_version: The ``api_version`` extra, sent as ``Intercom-Version``.
        :return: ``{"conn_type", "host", "password", "extra"}``.
        """
        return {
            "conn_type": "intercom",
            "host": self.url,
            "password": self.token,
            "extra": {"region": "us", "api_version": api_version},
        }

    @property
    def port(self) -> int:
        """
        Return the port the server listens on.

        :return: The port.
        :raises RuntimeError: If the sandbox is not started.
        """
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """
        Return the base URL, e.g. ``http://127.0.0.1:8111``.

        :return: The URL.
        """
        return f"http://{self.host}:{self.port}"

    def inject(self, *faults: FaultSpec, path: str | None = None) -> None:
        """
        Queue faults applied to the next requests in order, one per request.

        Fault names: ``"429"``, ``"500"``, ``"502"``, ``"503"``, ``"408"``, ``"drop"``, ``"empty200"`` and
        ``"html200"`` replace the answer, so the request has no effect. ``("delay", ms)`` waits, then
        answers normally. ``"late"`` lets the request take effect and answers ``late_ms`` later;
        ``"late_drop"`` lets it take effect, waits ``late_ms`` and closes the connection without an answer
        (``("late", ms)`` and ``("late_drop", ms)`` set the wait for one fault).

        :param faults: The faults.
        :param path: Only requests whose path starts with this prefix take these faults.
        """
        self.faults.inject(*faults, path=path)

    def start(self) -> IntercomSandbox:
        """
        Start serving in a background thread.

        :return: The sandbox itself.
        """
        if self._server is not None:
            raise RuntimeError("the sandbox is already started")
        self.stopping.clear()
        self._server = SandboxHTTPServer((self.host, self._requested_port), self)
        # stop() waits for one poll, so keep it short; 50 idle wake-ups a second cost next to nothing.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="intercom-sandbox",
            daemon=True,
        )
        self._thread.start()
        log.debug("Intercom sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket and open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> IntercomSandbox:
        """
        Start the sandbox.

        :return: The started sandbox.
        """
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """
        Stop the sandbox.

        :param exc_type: Exception type, if any.
        :param exc_value: Exception, if any.
        :param traceback: Traceback, if any.
        """
        self.stop()
