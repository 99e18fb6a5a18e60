"""
The sandbox's named API errors, after moto's ``exceptions.py``: one class per refusal Intercom answers.

Each class fixes the HTTP status and ``errors[].code``, and the message where Intercom's wording is fixed.
The backend, the routes and the request pipeline raise them; the routing layer renders every one as
Intercom's ``error.list`` body (:func:`airflow_provider_intercom.sandbox.routing.error_response`).
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """
    A request Intercom refuses.

    :param message: ``errors[].message``; None for the class's own wording.
    :param headers: Extra response headers, e.g. ``Link`` or ``X-RateLimit-*``.
    """

    status = 400
    code = "parameter_invalid"
    message = "Bad Request"

    def __init__(self, message: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        if message is not None:
            self.message = message
        self.headers = dict(headers or {})
        super().__init__(f"{self.status} {self.code}: {self.message}")


class ParameterInvalid(ApiError):
    """A body, query string or header value of the wrong shape (400 ``parameter_invalid``)."""


class NotAJsonObject(ParameterInvalid):
    """A body that must be a JSON object and is not."""

    message = "The body must be a JSON object"


class InvalidTagParameters(ParameterInvalid):
    """Any malformed ``POST /tags`` body: Intercom answers them all alike."""

    message = "invalid tag parameters"


class ParameterNotFound(ApiError):
    """A required parameter that is missing (400 ``parameter_not_found``)."""

    code = "parameter_not_found"


class BadRequest(ApiError):
    """A malformed ``POST /companies`` body: companies name their 400s ``bad_request``."""

    code = "bad_request"


class QueryInvalid(ApiError):
    """
    A search body Intercom refuses with a 400; the code comes from the search module.

    :param code: ``errors[].code``, e.g. ``parameter_invalid`` or ``invalid_sort_order``.
    :param message: ``errors[].message``.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class TagHasDependentObjects(ApiError):
    """
    A tag that segments use cannot be deleted.

    :param segment_names: The names of those segments, in order.
    """

    code = "tag_has_dependent_objects"

    def __init__(self, segment_names: list[str]) -> None:
        names = ", ".join(segment_names)
        super().__init__(f"Unable to delete Tag with dependent objects. Segments: {names}.")


class ResourceNotFound(ApiError):
    """An unknown path, or a method the path does not support."""

    status = 404
    code = "not_found"
    message = "Resource Not Found"


class TagNotFound(ResourceNotFound):
    """An unknown tag id on ``/tags`` and contact tags, worded like an unknown path."""


class UserNotFound(ResourceNotFound):
    """An unknown (or merged) contact id."""

    message = "User Not Found"


class ConversationNotFound(ResourceNotFound):
    """An unknown conversation id."""

    message = "Conversation not found"


class CompanyNotFound(ApiError):
    """An unknown company."""

    status = 404
    code = "company_not_found"
    message = "Company Not Found"


class ObjectTagNotFound(ApiError):
    """An unknown tag id on conversation and ticket tags, which name it differently from contacts."""

    status = 404
    code = "tag_not_found"
    message = "Tag not found"


class TicketNotFound(ApiError):
    """An unknown ticket id."""

    status = 404
    code = "ticket_not_found"
    message = "Ticket not found"


class AdminNotFound(ApiError):
    """An unknown ``admin_id``."""

    status = 404
    code = "admin_not_found"
    message = "Admin not found"


class ContactMerged(ApiError):
    """
    A contact merged into another, from 2.16 on: 410 with a ``Link`` to the contact that replaced it.

    :param canonical_id: The id of the contact at the end of the merge chain.
    """

    status = 410
    code = "contact_merged"
    message = "This contact has been merged. See the 'Link' header for the canonical contact."

    def __init__(self, canonical_id: str) -> None:
        super().__init__(headers={"Link": f'</contacts/{canonical_id}>; rel="canonical"'})


class ContactConflict(ApiError):
    """
    A user with the same email or external_id already exists.

    :param existing_id: The id of that contact.
    """

    status = 409
    code = "conflict"

    def __init__(self, existing_id: str) -> None:
        super().__init__(f"A contact matching those details already exists with id={existing_id}")


class Unauthorized(ApiError):
    """A request without the sandbox's Bearer token."""

    status = 401
    code = "unauthorized"
    message = "Access Token Invalid"


class RateLimitExceeded(ApiError):
    """A request over the rate limit (or an injected 429); the message and headers come from the limiter."""

    status = 429
    code = "rate_limit_exceeded"


class VersionInvalid(ApiError):
    """
    An ``Intercom-Version`` header naming no version Intercom has.

    :param version: The version asked for.
    """

    code = "intercom_version_invalid"

    def __init__(self, version: str) -> None:
        super().__init__(f"Intercom-Version {version!r} is not valid")


class SandboxInternalError(ApiError):
    """A bug in the sandbox, answered as a real server would."""

    status = 500
    code = "server_error"
    message = "Sandbox internal error"


class InjectedError(ApiError):
    """
    The answer of an injected status fault, which replaces the request's own.

    :param status: HTTP status.
    :param code: ``errors[].code``.
    :param message: ``errors[].message``.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code = status, code
        super().__init__(message)
