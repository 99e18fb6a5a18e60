"""
Routing: the one request type and the one response type of the sandbox, and the router between them.

A handler maps ``(backend, request, path parameters)`` to an :class:`ApiResponse`, or raises a named
:class:`~airflow_provider_intercom.sandbox.errors.ApiError`, which :func:`error_response` renders. The
request pipeline builds its own answers (faults, 401, 429) with the same two types, so the HTTP server
writes only :class:`ApiResponse`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from airflow_provider_intercom.sandbox import render
from airflow_provider_intercom.sandbox.backend import IntercomBackend
from airflow_provider_intercom.sandbox.errors import ApiError, ParameterInvalid, ResourceNotFound

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ApiRequest:
    """
    One HTTP request, as the pipeline and the handlers read it.

    :param method: HTTP method, upper case.
    :param path: URL path without the query string.
    :param query: Parsed query string (each name to its values).
    :param raw_body: The request body as received.
    :param headers: Request headers by lower-case name (the first one of a repeated name).
    :param received_at: Arrival time, Unix seconds.
    :param request_id: The id echoed in ``request_id`` of error bodies.
    """

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    raw_body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def version(self) -> str:
        """
        Return the ``Intercom-Version`` the request asked for, or the sandbox default.

        :return: The version, not yet checked.
        """
        return (self.headers.get("intercom-version") or render.DEFAULT_VERSION).strip()

    def json_body(self) -> Any:
        """
        Parse the body as JSON.

        :return: The parsed value, or None for an empty body.
        :raises ParameterInvalid: If the body is not JSON.
        """
        if not self.raw_body.strip():
            return None
        try:
            return json.loads(self.raw_body)
        except (UnicodeDecodeError, ValueError):
            raise ParameterInvalid("The request body is not valid JSON") from None

    def query_value(self, name: str) -> str | None:
        """
        Return the last value of a query-string parameter.

        :param name: Parameter name.
        :return: Its value, or None when absent.
        """
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass(frozen=True)
class ApiResponse:
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
    def json(
        cls, status: int, body: dict[str, Any] | None, headers: Mapping[str, str] | None = None
    ) -> ApiResponse:
        """
        Build a JSON answer, or an answer without content when ``body`` is None.

        :param status: HTTP status.
        :param body: The JSON body, or None for "Successful" with no content (e.g. DELETE /tags/{id}).
        :param headers: Extra headers.
        :return: The response.
        """
        if body is None:
            return cls(status, b"", None, dict(headers or {}))
        return cls(status, json.dumps(body).encode(), JSON_CONTENT_TYPE, dict(headers or {}))

    def with_headers_first(self, headers: Mapping[str, str]) -> ApiResponse:
        """
        Return this response with more headers sent before its own (its own win on a clash).

        :param headers: The headers to add, e.g. ``X-RateLimit-*``.
        :return: The new response.
        """
        return ApiResponse(self.status, self.payload, self.content_type, {**headers, **self.headers})


def ok(body: dict[str, Any]) -> ApiResponse:
    """
    Answer 200 with a JSON body.

    :param body: The body.
    :return: The response.
    """
    return ApiResponse.json(200, body)


def error_response(error: ApiError, request: ApiRequest) -> ApiResponse:
    """
    Render a named error as Intercom's ``error.list`` answer.

    :param error: The error.
    :param request: The request it answers, whose id the body echoes.
    :return: The response, with the error's headers.
    """
    body = render.error_body(error.code, error.message, request.request_id)
    return ApiResponse.json(error.status, body, error.headers)


Handler = Callable[[IntercomBackend, ApiRequest, dict[str, str]], ApiResponse]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    since: tuple[int, int] | None


class Router:
    """
    Match a request to a handler by method and path template (``{name}`` matches one path segment).

    Each resource module has its own router; ``Router(tags.router, contacts.router, ...)`` joins them.

    :param routers: Routers whose routes this one starts with, in order.
    """

    def __init__(self, *routers: Router) -> None:
        self._routes: list[_Route] = [route for router in routers for route in router._routes]

    def route(
        self, method: str, template: str, since: tuple[int, int] | None = None
    ) -> Callable[[Handler], Handler]:
        """
        Register the decorated function as the handler of ``method template``.

        :param method: HTTP method.
        :param template: Path such as ``/contacts/{contact_id}/tags``.
        :param since: The first ``Intercom-Version`` that has the endpoint, as ``(major, minor)``; older
            versions get the answer of an unknown path. None for endpoints every version has.
        :return: The decorator.
        """
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")

        def register(handler: Handler) -> Handler:
            self._routes.append(_Route(method, pattern, handler, since))
            return handler

        return register

    def dispatch(self, backend: IntercomBackend, request: ApiRequest) -> ApiResponse:
        """
        Run the handler for a request with the state lock held, and render any :class:`ApiError`.

        :param backend: The backend the handler works on.
        :param request: The request.
        :return: The response.
        """
        for route in self._routes:
            match = route.pattern.match(request.path)
            if route.since is not None and not render.version_at_least(request.version, route.since):
                continue
            if match and route.method == request.method:
                params = {name: unquote(value) for name, value in match.groupdict().items()}
                try:
                    # Held for the whole handler, so each request is applied atomically.
                    with backend.state.lock:
                        return route.handler(backend, request, params)
                except ApiError as error:
                    return error_response(error, request)
        # Intercom answers 404 for unknown paths and for methods a path does not support.
        return error_response(ResourceNotFound(), request)
