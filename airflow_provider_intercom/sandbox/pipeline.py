"""
The request pipeline: what happens to a request between the HTTP server and the router.

Each request goes through the same steps: take a fault if one is due (and the configured latency), check
the Bearer token (401 without rate-limit headers), count it against the rate limit (429 when over), check
the ``Intercom-Version`` header, then run the route. Every answer is logged in the request log before it
is sent. A ``late`` fault holds the route's answer back for ``late_ms`` after the route ran; ``late_drop``
then closes the connection instead of answering.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_intercom.sandbox import render
from airflow_provider_intercom.sandbox.backend import IntercomBackend
from airflow_provider_intercom.sandbox.errors import (
    ApiError,
    InjectedError,
    RateLimitExceeded,
    SandboxInternalError,
    Unauthorized,
    VersionInvalid,
)
from airflow_provider_intercom.sandbox.faults import LATE_FAULTS, Fault, FaultInjector
from airflow_provider_intercom.sandbox.ratelimit import FixedWindowRateLimiter
from airflow_provider_intercom.sandbox.routes import router
from airflow_provider_intercom.sandbox.routing import (
    JSON_CONTENT_TYPE,
    ApiRequest,
    ApiResponse,
    error_response,
)

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
# A dropped connection: closed without a byte of answer, as a crashed upstream would.
DROPPED = ApiResponse(None)


class PipelineSettings(Protocol):
    """The sandbox settings the pipeline reads on every request, so a change applies to the next one."""

    @property
    def token(self) -> str:
        """Return the only access token accepted."""

    latency_ms: float
    late_ms: float
    rate_limiter: FixedWindowRateLimiter
    faults: FaultInjector

    def injected_429_reset_at(self) -> int:
        """Return the ``X-RateLimit-Reset`` of an injected 429."""


@dataclass(frozen=True)
class Outcome:
    """
    What the server is to do with a request's answer.

    :param response: The answer (status None: drop the connection).
    :param late_seconds: Hold the answer this long before writing it (``late`` faults); None for at once.
    :param close: Close the connection after answering.
    """

    response: ApiResponse
    late_seconds: float | None = None
    close: bool = False


class RequestPipeline:
    """
    Answer requests: faults, authentication, rate limit, version check, route; then the request log.

    :param settings: The sandbox's settings, read on every request.
    :param backend: The backend the routes work on; its state holds the request log.
    """

    def __init__(self, settings: PipelineSettings, backend: IntercomBackend) -> None:
        self.settings = settings
        self.backend = backend

    def answer(self, request: ApiRequest) -> Outcome:
        """
        Answer one request read in full.

        :param request: The request.
        :return: The outcome, already logged.
        """
        try:
            response, fault = self._answer(request)
        except Exception:
            # A bug in the sandbox, not in the client: say so, like a real server would.
            traceback.print_exc(file=sys.stderr)
            return self._logged(request, error_response(SandboxInternalError(), request), None, close=True)
        if fault is None or fault.kind not in LATE_FAULTS:
            return self._logged(request, response, fault)
        if fault.kind == "late_drop":
            # The route ran and its change stays; only the answer is lost.
            response = DROPPED
        late_ms = self.settings.late_ms if fault.delay_ms is None else fault.delay_ms
        return self._logged(request, response, fault, late_seconds=late_ms / 1000)

    def refuse(self, request: ApiRequest, error: ApiError) -> Outcome:
        """
        Answer a request the server could not read (e.g. a malformed body), with no fault and no route.

        :param request: What was read of the request.
        :param error: Why it is refused.
        :return: The outcome, already logged; the connection is closed after it.
        """
        return self._logged(request, error_response(error, request), None, close=True)

    def _answer(self, request: ApiRequest) -> tuple[ApiResponse, Fault | None]:
        fault = self.settings.faults.next_fault(request.path)
        delay_ms = self.settings.latency_ms
        if fault is not None and fault.kind == "delay":
            delay_ms += fault.delay_ms or 0.0
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if fault is not None and fault.skips_request:
            return self._fault_response(fault, request), fault
        return self._checked(request), fault

    def _checked(self, request: ApiRequest) -> ApiResponse:
        if not self._authorized(request):
            # Intercom sends no rate-limit headers to a request without valid credentials.
            return error_response(Unauthorized(), request)
        decision = self.settings.rate_limiter.hit()
        try:
            if not decision.allowed:
                raise RateLimitExceeded(self.settings.rate_limiter.exceeded_message())
            if request.version not in render.SUPPORTED_VERSIONS:
                raise VersionInvalid(request.version)
            response = router.dispatch(self.backend, request)
        except ApiError as error:
            response = error_response(error, request)
        return response.with_headers_first(decision.headers())

    def _authorized(self, request: ApiRequest) -> bool:
        scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and credentials.strip() == self.settings.token

    def _fault_response(self, fault: Fault, request: ApiRequest) -> ApiResponse:
        if fault.kind == "drop":
            return DROPPED
        if fault.kind == "empty200":
            return ApiResponse(200, b"", JSON_CONTENT_TYPE)
        if fault.kind == "html200":
            return ApiResponse(200, HTML_OUTAGE_PAGE, "text/html; charset=utf-8")
        if fault.kind == "429":
            limiter = self.settings.rate_limiter
            headers = {
                "X-RateLimit-Limit": str(limiter.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(self.settings.injected_429_reset_at()),
            }
            return error_response(RateLimitExceeded(limiter.exceeded_message(), headers), request)
        code, message = STATUS_FAULT_ERRORS[fault.kind]
        return error_response(InjectedError(int(fault.kind), code, message), request)

    def _logged(
        self,
        request: ApiRequest,
        response: ApiResponse,
        fault: Fault | None,
        late_seconds: float | None = None,
        close: bool = False,
    ) -> Outcome:
        reset_header = response.headers.get("X-RateLimit-Reset")
        # Logged before answering: a client reading the log right after its answer must find its request.
        self.backend.state.request_log.append(
            {
                "method": request.method,
                "path": request.path,
                "query": {name: values[-1] for name, values in request.query.items()},
                "status": response.status,
                "version": request.version,
                "body": _parsed_json(request.raw_body),
                "time": request.received_at,
                "reset_at": None if reset_header is None else int(reset_header),
                "fault": None if fault is None else fault.kind,
            }
        )
        return Outcome(response, late_seconds, close)


def _parsed_json(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body) if raw_body.strip() else None
    except (UnicodeDecodeError, ValueError):
        return None
