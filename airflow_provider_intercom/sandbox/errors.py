"""
The sandbox's named API errors, after moto's ``exceptions.py``: one class per refusal Intercom answers.

Each class fixes the HTTP status and ``errors[].code``, and the message where Intercom's wording is fixed,
as keywords of its class statement. The backend, the routes and the request pipeline raise them; the
routing layer renders every one as Intercom's ``error.list`` body
(:func:`airflow_provider_intercom.sandbox.routing.error_response`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """
    A request Intercom refuses.

    :param message: ``errors[].message``; None for the class's own wording.
    :param headers: Extra response headers, e.g. ``Link`` or ``X-RateLimit-*``.
    """

    status = 400
    code = "parameter_invalid"
    message = "Bad Request"

    def __init_subclass__(
        cls, status: int | None = None, code: str | None = None, message: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = cls.status if status is None else status
        cls.code = cls.code if code is None else code
        cls.message = cls.message if message is None else message

    def __init__(self, message: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        if message is not None:
            self.message = message
        self.headers = dict(headers or {})
        super().__init__(f"{self.status} {self.code}: {self.message}")


# -- 400 ---------------------------------------------------------------------------------------------------


class ParameterInvalid(ApiError):
    """A body, query string or header value of the wrong shape (400 ``parameter_invalid``)."""


class NotAJsonObject(ParameterInvalid, message="The body must be a JSON object"):
    """A body that must be a JSON object and is not."""


class InvalidTagParameters(ParameterInvalid, message="invalid tag parameters"):
    """Any malformed ``POST /tags`` body: Intercom answers them all alike."""


class ParameterNotFound(ApiError, code="parameter_not_found"):
    """A required parameter that is missing."""


class BadRequest(ApiError, code="bad_request"):
    """A malformed ``POST /companies`` body: companies name their 400s ``bad_request``."""


class QueryInvalid(ApiError):
    """
    A search body Intercom refuses with a 400; the code comes from the search module.

    :param code: ``errors[].code``, e.g. ``parameter_invalid`` or ``invalid_sort_order``.
    :param message: ``errors[].message``.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class TagHasDependentObjects(ApiError, code="tag_has_dependent_objects"):
    """
    A tag that segments use cannot be deleted.

    :param segment_names: The names of those segments, in order.
    """

    def __init__(self, segment_names: list[str]) -> None:
        names = ", ".join(segment_names)
        super().__init__(f"Unable to delete Tag with dependent objects. Segments: {names}.")


class VersionInvalid(ApiError, code="intercom_version_invalid"):
    """
    An ``Intercom-Version`` header naming no version Intercom has.

    :param version: The version asked for.
    """

    def __init__(self, version: str) -> None:
        super().__init__(f"Intercom-Version {version!r} is not valid")


# -- 404 and 410 -------------------------------------------------------------------------------------------


class ResourceNotFound(ApiError, status=404, code="not_found", message="Resource Not Found"):
    """An unknown path, or a method the path does not support."""


class TagNotFound(ResourceNotFound):
    """An unknown tag id on ``/tags`` and contact tags, worded like an unknown path."""


class UserNotFound(ResourceNotFound, message="User Not Found"):
    """An unknown (or merged) contact id."""


class ConversationNotFound(ResourceNotFound, message="Conversation not found"):
    """An unknown conversation id."""


class CompanyNotFound(ApiError, status=404, code="company_not_found", message="Company Not Found"):
    """An unknown company."""


class ObjectTagNotFound(ApiError, status=404, code="tag_not_found", message="Tag not found"):
    """An unknown tag id on conversation and ticket tags, which name it differently from contacts."""


class TicketNotFound(ApiError, status=404, code="ticket_not_found", message="Ticket not found"):
    """An unknown ticket id."""


class AdminNotFound(ApiError, status=404, code="admin_not_found", message="Admin not found"):
    """An unknown ``admin_id``."""


class ContactMerged(
    ApiError,
    status=410,
    code="contact_merged",
    message="This contact has been merged. See the 'Link' header for the canonical contact.",
):
    """
    A contact merged into another, from 2.16 on: 410 with a ``Link`` to the contact that replaced it.

    :param canonical_id: The id of the contact at the end of the merge chain.
    """

    def __init__(self, canonical_id: str) -> None:
        super().__init__(headers={"Link": f'</contacts/{canonical_id}>; rel="canonical"'})


# -- other statuses ----------------------------------------------------------------------------------------


class ContactConflict(ApiError, status=409, code="conflict"):
    """
    A user with the same email or external_id already exists.

    :param existing_id: The id of that contact.
    """

    def __init__(self, existing_id: str) -> None:
        super().__init__(f"A contact matching those details already exists with id={existing_id}")


class Unauthorized(ApiError, status=401, code="unauthorized", message="Access Token Invalid"):
    """A request without the sandbox's Bearer token."""


class RateLimitExceeded(ApiError, status=429, code="rate_limit_exceeded"):
    """A request over the rate limit (or an injected 429); the message and headers come from the limiter."""


class SandboxInternalError(ApiError, status=500, code="server_error", message="Sandbox internal error"):
    """A bug in the sandbox, answered as a real server would."""


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
