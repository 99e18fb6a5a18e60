"""
Exceptions raised by the Intercom provider.

They derive from ``AirflowException`` so that existing ``except AirflowException`` handlers keep
working, and from the matching built-in where one fits (a bad setting is also a ``ValueError``).
No message ever contains the access token: they are built from status, code, method and path only.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException


class IntercomError(AirflowException):
    """Root of every error this provider raises."""


class IntercomConfigurationError(IntercomError, ValueError):
    """A connection or argument value is missing or not allowed; raised before any request is sent."""


class IntercomTransportError(IntercomError):
    """
    The request never got an HTTP answer (connection refused or dropped, timeout), even after retries.

    :param method: HTTP method of the failed request.
    :param path: URL path of the failed request (no host, no query string).
    :param reason: what went wrong, without the request headers.
    """

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{method} {path} got no answer from Intercom: {reason}")


class IntercomAPIError(IntercomError):
    """
    Intercom answered with an error, or with a body that cannot be read.

    The text reads like ``404 not_found: Resource Not Found (GET /tags/9, request_id abc)``.

    :param status: HTTP status code.
    :param code: the first ``errors[].code`` of the ``error.list`` body, or None.
    :param message: the first ``errors[].message``, or a description of the unreadable body.
    :param request_id: Intercom's ``request_id``, to quote when asking Intercom support.
    :param method: HTTP method of the request.
    :param path: URL path of the request.
    :param errors: every ``{"code", "message"}`` item of the body, as sent.
    :param canonical: the ``Link: <...>; rel="canonical"`` target, sent with 410 ``contact_merged``.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str | None,
        *,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
        errors: list[dict[str, Any]] | None = None,
        canonical: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.errors = errors or []
        self.canonical = canonical
        super().__init__(self._describe())

    def _describe(self) -> str:
        details = [
            f"{item.get('code')}: {item.get('message')}" for item in self.errors if isinstance(item, dict)
        ] or [f"{self.code or 'error'}: {self.message or 'no message'}"]
        where = f"{self.method} {self.path}".strip()
        if self.request_id:
            where += f", request_id {self.request_id}"
        return f"{self.status} {'; '.join(details)} ({where})"

    def to_dict(self) -> dict[str, Any]:
        """Return the error as plain JSON, for per-item failure reports in XCom."""
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
        }


class IntercomBadRequestError(IntercomAPIError):
    """400: Intercom refused the request body or parameters."""


class IntercomUnauthorizedError(IntercomAPIError):
    """401: the access token is missing, invalid or revoked; every further call would fail too."""


class IntercomForbiddenError(IntercomAPIError):
    """403: the token lacks a permission (scope) or the plan lacks the feature."""


class IntercomNotFoundError(IntercomAPIError):
    """404: the tag, contact or path does not exist (on 2.16, also 410 ``contact_merged``)."""


class IntercomConflictError(IntercomAPIError):
    """409: the request conflicts with existing data, e.g. a duplicate email."""


class IntercomRateLimitError(IntercomAPIError):
    """
    429 ``rate_limit_exceeded``, still answered after every retry.

    :param reset_at: the ``X-RateLimit-Reset`` Unix time the server sent, if any.
    """

    def __init__(self, *args: Any, reset_at: float | None = None, **kwargs: Any) -> None:
        self.reset_at = reset_at
        super().__init__(*args, **kwargs)


class IntercomServerError(IntercomAPIError):
    """408 or 5xx, still answered after every retry."""


class IntercomInvalidResponseError(IntercomAPIError):
    """A success status whose body is not the JSON Intercom documents (empty, HTML, truncated)."""


class IntercomTagNotFoundError(IntercomError, LookupError):
    """No tag has the name (or id) a task was given, and the task may not create it."""


class IntercomTagInUseError(IntercomError):
    """A tag cannot be deleted because segments use it (400 ``tag_has_dependent_objects``)."""


class IntercomReportedError(IntercomError):
    """
    A task stopped with a report: the report was pushed to XCom before this was raised, and is kept here too.

    :param message: the summary shown in the task log.
    :param report: the operator's report or plan (plain JSON).
    """

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        self.report = report
        super().__init__(message)


class IntercomPartialFailureError(IntercomReportedError):
    """A bulk task left more items untouched than its ``max_failed_ratio`` allows."""


class IntercomSyncGuardError(IntercomReportedError):
    """A sync was refused before any write: too many removals, or a desired set that resolved to little."""


class IntercomStalePlanError(IntercomError):
    """
    A reviewed plan was refused before any write: the tag's members moved since it was planned.

    :param message: what moved, with the counts.
    :param drift: the counts: ``appeared``, ``vanished``, ``max_drift``.
    """

    def __init__(self, message: str, drift: dict[str, int]) -> None:
        self.drift = drift
        super().__init__(message)


ERRORS_BY_STATUS: dict[int, type[IntercomAPIError]] = {
    400: IntercomBadRequestError,
    401: IntercomUnauthorizedError,
    403: IntercomForbiddenError,
    404: IntercomNotFoundError,
    409: IntercomConflictError,
    410: IntercomNotFoundError,
    429: IntercomRateLimitError,
}


def error_class_for(status: int) -> type[IntercomAPIError]:
    """
    Return the most specific exception class for an HTTP error status.

    :param status: The HTTP status Intercom answered.
    """
    if status == 408 or status >= 500:
        return IntercomServerError
    return ERRORS_BY_STATUS.get(status, IntercomAPIError)
