"""
:class:`IntercomSandbox`: the state, the backend, the request pipeline and the HTTP server, wired together.

This is what tests, demos and the command line start; everything it holds is reachable from it, to seed
data (:attr:`IntercomSandbox.state`), inject faults (:meth:`IntercomSandbox.inject`) or read the requests
it answered (:attr:`IntercomSandbox.requests`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_provider_intercom.sandbox.backend import IntercomBackend
from airflow_provider_intercom.sandbox.faults import DEFAULT_LATE_MS, FaultInjector, FaultSpec
from airflow_provider_intercom.sandbox.pipeline import RequestPipeline
from airflow_provider_intercom.sandbox.ratelimit import (
    DEFAULT_LIMIT,
    DEFAULT_WINDOW_SECONDS,
    FixedWindowRateLimiter,
)
from airflow_provider_intercom.sandbox.server import SandboxHTTPServer
from airflow_provider_intercom.sandbox.state import SandboxState

log = logging.getLogger(__name__)


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
        self._pipeline = RequestPipeline(self, IntercomBackend(self._state))
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
        return self._state.request_log.entries()

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
        self._server = SandboxHTTPServer(
            (self.host, self._requested_port), self._pipeline, verbose=lambda: self.verbose
        )
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
        server.stop()
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
