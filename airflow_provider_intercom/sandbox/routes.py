"""
The sandbox's REST routes: each maps (method, path template) to a handler over :class:`SandboxState`.

Handlers return an :class:`ApiResponse` or raise :class:`ApiError`; they run with the state lock held, so
each request is applied atomically. To add an endpoint, write a handler and decorate it with
``@router.route("METHOD", "/path/{param}")``; ``since=(2, 10)`` hides it from older ``Intercom-Version``s.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote

from airflow_provider_intercom.sandbox import render, search
from airflow_provider_intercom.sandbox.models import (
    Admin,
    Company,
    Contact,
    SandboxState,
    Tag,
    Taggable,
    now_unix,
)


@dataclass(frozen=True)
class ApiRequest:
    """
    The parts of an HTTP request the handlers read.

    :param method: HTTP method, upper case.
    :param path: URL path without the query string.
    :param query: Parsed query string (each name to its values).
    :param raw_body: The request body as received.
    :param version: The ``Intercom-Version`` the request asked for (or the sandbox default).
    :param request_id: The id echoed in ``request_id`` of error bodies.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    raw_body: bytes
    version: str
    request_id: str

    def json_body(self) -> Any:
        """
        Parse the body as JSON.

        :return: The parsed value, or None for an empty body.
        :raises ApiError: 400 ``parameter_invalid`` if the body is not JSON.
        """
        if not self.raw_body.strip():
            return None
        try:
            return json.loads(self.raw_body)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "parameter_invalid", "The request body is not valid JSON") from None

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
    What a handler answers.

    :param status: HTTP status.
    :param body: The JSON body, or None for no content.
    :param headers: Extra response headers.
    """

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """
    A failure answered with Intercom's ``error.list`` body.

    :param status: HTTP status.
    :param code: ``errors[].code``.
    :param message: ``errors[].message``.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


Handler = Callable[[SandboxState, ApiRequest, dict[str, str]], ApiResponse]


class Router:
    """Match a request to a handler by method and path template (``{name}`` matches one path segment)."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler, tuple[int, int] | None]] = []

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
            self._routes.append((method, pattern, handler, since))
            return handler

        return register

    def dispatch(self, state: SandboxState, request: ApiRequest) -> ApiResponse:
        """
        Run the handler for a request and turn any :class:`ApiError` into an error response.

        :param state: The sandbox state.
        :param request: The request.
        :return: The response.
        """
        for method, pattern, handler, since in self._routes:
            match = pattern.match(request.path)
            if since is not None and not render.version_at_least(request.version, since):
                continue
            if match and method == request.method:
                params = {name: unquote(value) for name, value in match.groupdict().items()}
                try:
                    with state.lock:
                        return handler(state, request, params)
                except ApiError as error:
                    return error_response(error, request.request_id)
        # Intercom answers 404 for unknown paths and for methods a path does not support.
        return error_response(ApiError(404, "not_found", "Resource Not Found"), request.request_id)


def error_response(error: ApiError, request_id: str) -> ApiResponse:
    """
    Render an :class:`ApiError` as a response.

    :param error: The error.
    :param request_id: The request id to echo.
    :return: The ``error.list`` response.
    """
    return ApiResponse(error.status, render.error_body(error.code, error.message, request_id))


router = Router()

# Factories rather than shared instances: each raise gets its own exception (and traceback).
ErrorFactory = Callable[[], ApiError]
INVALID_TAG_PARAMETERS: ErrorFactory = partial(ApiError, 400, "parameter_invalid", "invalid tag parameters")
TAG_NOT_FOUND: ErrorFactory = partial(ApiError, 404, "not_found", "Resource Not Found")
USER_NOT_FOUND: ErrorFactory = partial(ApiError, 404, "not_found", "User Not Found")
COMPANY_NOT_FOUND: ErrorFactory = partial(ApiError, 404, "company_not_found", "Company Not Found")
# Conversations and tickets name a missing tag differently from contacts.
OBJECT_TAG_NOT_FOUND: ErrorFactory = partial(ApiError, 404, "tag_not_found", "Tag not found")
CONVERSATION_NOT_FOUND: ErrorFactory = partial(ApiError, 404, "not_found", "Conversation not found")
TICKET_NOT_FOUND: ErrorFactory = partial(ApiError, 404, "ticket_not_found", "Ticket not found")
ADMIN_NOT_FOUND: ErrorFactory = partial(ApiError, 404, "admin_not_found", "Admin not found")
NOT_A_JSON_OBJECT: ErrorFactory = partial(
    ApiError, 400, "parameter_invalid", "The body must be a JSON object"
)


def _as_id(value: Any) -> str | None:
    # Ids are strings in the schemas, but Intercom's own examples send integers: accept both.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _object_body(request: ApiRequest, invalid: ErrorFactory) -> dict[str, Any]:
    body = request.json_body()
    if not isinstance(body, dict):
        raise invalid()
    return body


def _ok(body: dict[str, Any]) -> ApiResponse:
    return ApiResponse(200, body)


# -- tags ------------------------------------------------------------------------------------------------


@router.route("GET", "/tags")
def list_tags(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    List every tag of the workspace (``listTags``; not paginated).

    :param state: Sandbox state.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``tag_list``.
    """
    return _ok(render.tag_list(list(state.tags.values())))


@router.route("POST", "/tags")
def create_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Create or rename a tag, or tag/untag users or companies with it (``createTag``).

    The body variant is picked by the presence of ``users`` or ``companies``. Up to 2.15 one unknown user or
    company fails the whole request with 404 and tags nothing; from 2.16 unknown ones are skipped and the
    answer lists what was done.

    :param state: Sandbox state.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``tag_basic`` (2.16+: ``tag_create_response``).
    """
    body = _object_body(request, INVALID_TAG_PARAMETERS)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise INVALID_TAG_PARAMETERS()
    users, companies = body.get("users"), body.get("companies")
    if users is not None and companies is not None:
        raise INVALID_TAG_PARAMETERS()
    if users is not None:
        return _tag_entities(state, request, name, users, _find_contacts, USER_NOT_FOUND, "users")
    if companies is not None:
        return _tag_entities(state, request, name, companies, _find_companies, COMPANY_NOT_FOUND, "companies")
    if body.get("id") is not None:
        tag_id = _as_id(body["id"])
        if tag_id is None:
            raise INVALID_TAG_PARAMETERS()
        tag = state.tags.get(tag_id)
        if tag is None:
            raise TAG_NOT_FOUND()
        tag.name = name
    else:
        tag = state.get_or_create_tag(name)
    return _ok(render.tag_basic(tag))


EntityFinder = Callable[[SandboxState, list[Any]], list[tuple[Contact | Company | None, bool]]]


def _untag_flag(item: dict[str, Any]) -> bool:
    # "Always set to true"; the 2.16 example sends the string "true".
    return item.get("untag") in (True, "true")


def _find_contacts(state: SandboxState, items: list[Any]) -> list[tuple[Contact | Company | None, bool]]:
    found: list[tuple[Contact | Company | None, bool]] = []
    for item in items:
        contact_id = _as_id(item.get("id")) if isinstance(item, dict) else None
        if contact_id is None:
            raise INVALID_TAG_PARAMETERS()
        found.append((_live_contact(state, contact_id), _untag_flag(item)))
    return found


def _find_companies(state: SandboxState, items: list[Any]) -> list[tuple[Contact | Company | None, bool]]:
    found: list[tuple[Contact | Company | None, bool]] = []
    for item in items:
        if not isinstance(item, dict):
            raise INVALID_TAG_PARAMETERS()
        intercom_id, company_id = _as_id(item.get("id")), _as_id(item.get("company_id"))
        if intercom_id is None and company_id is None:
            raise INVALID_TAG_PARAMETERS()
        company = state.find_company(intercom_id=intercom_id, company_id=company_id)
        found.append((company, _untag_flag(item)))
    return found


def _tag_entities(
    state: SandboxState,
    request: ApiRequest,
    name: str,
    items: Any,
    finder: EntityFinder,
    not_found: ErrorFactory,
    result_key: str,
) -> ApiResponse:
    if not isinstance(items, list):
        raise INVALID_TAG_PARAMETERS()
    found = finder(state, items)
    skipping = render.skips_unknown_entities(request.version)
    if not skipping and any(entity is None for entity, _ in found):
        # Before 2.16 the whole batch fails and nothing is tagged, not even the tag is created.
        raise not_found()
    tag = state.get_or_create_tag(name)
    applied_at = now_unix()
    results: list[tuple[Contact | Company, bool]] = []
    for entity, untag in found:
        if entity is None:
            continue
        if untag:
            entity.tags.pop(tag.id, None)
        else:
            entity.tags.setdefault(tag.id, applied_at)
        results.append((entity, not untag))
    if not skipping:
        return _ok(render.tag_basic(tag))
    other_key = "companies" if result_key == "users" else "users"
    return _ok({**render.tag_basic(tag), result_key: render.tagged_entities(results), other_key: []})


@router.route("GET", "/tags/{tag_id}")
def find_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Return one tag (``findTag``).

    :param state: Sandbox state.
    :param request: The request.
    :param params: ``tag_id``.
    :return: ``tag_basic``, or 404 ``not_found``.
    """
    return _ok(render.tag_basic(_tag(state, params["tag_id"])))


@router.route("DELETE", "/tags/{tag_id}")
def delete_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Delete a tag and untag everything carrying it (``deleteTag``).

    :param state: Sandbox state.
    :param request: The request.
    :param params: ``tag_id``.
    :return: 200 without content; 404 ``not_found``; 400 ``tag_has_dependent_objects`` while a segment
        uses the tag.
    """
    tag = _tag(state, params["tag_id"])
    segments = state.segments_using_tag(tag.id)
    if segments:
        names = ", ".join(segment.name for segment in segments)
        raise ApiError(
            400,
            "tag_has_dependent_objects",
            f"Unable to delete Tag with dependent objects. Segments: {names}.",
        )
    state.delete_tag(tag.id)
    return ApiResponse(200, None)


def _tag(state: SandboxState, tag_id: str) -> Tag:
    tag = state.tags.get(tag_id)
    if tag is None:
        raise TAG_NOT_FOUND()
    return tag


# -- contacts --------------------------------------------------------------------------------------------


def _live_contact(state: SandboxState, contact_id: str) -> Contact | None:
    # A merged contact is gone: every operation on its old id finds nothing.
    contact = state.contacts.get(contact_id)
    return None if contact is None or contact.merged_into is not None else contact


def _contact(state: SandboxState, contact_id: str) -> Contact:
    contact = _live_contact(state, contact_id)
    if contact is None:
        raise USER_NOT_FOUND()
    return contact


@router.route("GET", "/contacts/{contact_id}/tags")
def list_contact_tags(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    List the tags of one contact (``listTagsForAContact``).

    :param state: Sandbox state.
    :param request: The request.
    :param params: ``contact_id``.
    :return: ``tag_list``, or 404 ``User Not Found``.
    """
    contact = _contact(state, params["contact_id"])
    return _ok(render.tag_list([state.tags[tag_id] for tag_id in contact.tags if tag_id in state.tags]))


@router.route("POST", "/contacts/{contact_id}/tags")
def attach_contact_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Tag a contact (``attachTagToContact``); tagging twice is harmless.

    :param state: Sandbox state.
    :param request: The request, body ``{"id": tag_id}``.
    :param params: ``contact_id``.
    :return: ``tag`` with ``applied_at``/``applied_by``, or 404.
    """
    contact = _contact(state, params["contact_id"])
    body = _object_body(request, partial(ApiError, 400, "parameter_invalid", "The body must hold the tag id"))
    tag_id = _as_id(body.get("id"))
    if tag_id is None:
        raise ApiError(400, "parameter_invalid", "id must be the tag id, a string")
    tag = _tag(state, tag_id)
    applied_at = contact.tags.setdefault(tag.id, now_unix())
    return _ok(render.tag_full(tag, applied_at, state.primary_admin()))


@router.route("DELETE", "/contacts/{contact_id}/tags/{tag_id}")
def detach_contact_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Remove a tag from a contact (``detachTagFromContact``); removing an absent tag is harmless.

    :param state: Sandbox state.
    :param request: The request.
    :param params: ``contact_id`` and ``tag_id``.
    :return: ``tag``, or 404.
    """
    contact = _contact(state, params["contact_id"])
    tag = _tag(state, params["tag_id"])
    applied_at = contact.tags.pop(tag.id, None)
    return _ok(render.tag_full(tag, applied_at or now_unix(), state.primary_admin()))


@router.route("GET", "/contacts/{contact_id}")
def show_contact(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Return one contact (``ShowContact``).

    :param state: Sandbox state.
    :param request: The request.
    :param params: ``contact_id``.
    :return: ``contact``, or 404 ``User Not Found``; for a merged contact from 2.16 on, 410 ``contact_merged``
        with ``Link: </contacts/{canonical id}>; rel="canonical"`` (404 before 2.16).
    """
    contact_id = params["contact_id"]
    existing = state.contacts.get(contact_id)
    if (
        existing is not None
        and existing.merged_into is not None
        and render.version_at_least(request.version, (2, 16))
    ):
        link = f'</contacts/{state.canonical_contact_id(contact_id)}>; rel="canonical"'
        return ApiResponse(410, render.contact_merged_body(request.request_id), {"Link": link})
    return _ok(render.contact(state, _contact(state, contact_id), request.version))


# Types of the create_contact_request fields; None in a tuple means the field is nullable.
_CONTACT_FIELD_TYPES: dict[str, tuple[type | None, ...]] = {
    "role": (str,),
    "external_id": (str,),
    "email": (str,),
    "phone": (str, None),
    "name": (str, None),
    "avatar": (str, None),
    "signed_up_at": (int, None),
    "last_seen_at": (int, None),
    "unsubscribed_from_emails": (bool, None),
    "custom_attributes": (dict, None),
}


# Only URI characters (RFC 3986 unreserved, reserved and %-escapes): the avatar is echoed as a `uri`.
_ABSOLUTE_HTTP_URL = re.compile(r"https?://(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")


def _check_type(
    name: str, value: Any, allowed: tuple[type | None, ...], code: str = "parameter_invalid"
) -> None:
    if value is None and None in allowed:
        return
    # bool is an int subclass in Python, not in JSON.
    if isinstance(value, bool) and bool not in allowed:
        raise ApiError(400, code, f"{name} has the wrong type")
    if not any(kind is not None and isinstance(value, kind) for kind in allowed):
        raise ApiError(400, code, f"{name} has the wrong type")


def _check_contact_fields(body: dict[str, Any], version: str) -> None:
    # The checks shared by create_contact_request and update_contact_request.
    for name, allowed in _CONTACT_FIELD_TYPES.items():
        if name in body:
            _check_type(name, body[name], allowed)
    owner_id = body.get("owner_id")
    if owner_id is not None and _as_id(owner_id) is None:
        raise ApiError(400, "parameter_invalid", "owner_id has the wrong type")
    if render.version_at_least(version, (2, 16)) and body.get("email_verified") is not None:
        _check_type("email_verified", body["email_verified"], (bool,))
        if body.get("email") is None:
            raise ApiError(400, "parameter_invalid", "email_verified must be sent together with an email")
    avatar = body.get("avatar")
    if avatar is not None and not _ABSOLUTE_HTTP_URL.fullmatch(avatar):
        raise ApiError(400, "parameter_invalid", "avatar must be an absolute http(s) URL")
    if body.get("role") not in (None, "user", "lead"):
        raise ApiError(400, "parameter_invalid", "role must be either user or lead")


@router.route("POST", "/contacts")
def create_contact(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Create a contact (``CreateContact``): needs ``email``, ``external_id`` or ``role``.

    :param state: Sandbox state.
    :param request: The request, a ``create_contact_request`` body.
    :param params: Path parameters (none).
    :return: ``contact``; 400 for an invalid body; 409 ``conflict`` when a user already has that email or
        external_id.
    """
    body = _object_body(request, NOT_A_JSON_OBJECT)
    _check_contact_fields(body, request.version)
    if all(body.get(key) is None for key in ("email", "external_id", "role")):
        raise ApiError(400, "parameter_invalid", "Please provide an email, external_id or role")
    role = body.get("role") or "user"
    _refuse_duplicate(state, role, body.get("email"), body.get("external_id"))
    record = {key: body.get(key) for key in (*_CONTACT_FIELD_TYPES, "owner_id")}
    contact = state.add_contact({**record, "role": role, "tags": []})
    return _ok(render.contact(state, contact, request.version))


@router.route("PUT", "/contacts/{contact_id}")
def update_contact(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Update a contact (``UpdateContact``) with the fields of ``update_contact_request``.

    Keys the request schema does not have are ignored; ``tags`` in particular changes nothing, since tags
    change only through the tag endpoints. ``custom_attributes`` are merged into the existing ones.

    :param state: Sandbox state.
    :param request: The request, an ``update_contact_request`` body.
    :param params: ``contact_id``.
    :return: ``contact``; 404 ``User Not Found``; 400 for an invalid body; 409 ``conflict`` when another
        user already has the new email or external_id.
    """
    contact = _contact(state, params["contact_id"])
    body = _object_body(request, NOT_A_JSON_OBJECT)
    _check_contact_fields(body, request.version)
    role = body.get("role") or contact.role
    _refuse_duplicate(state, role, body.get("email"), body.get("external_id"), exclude=contact)
    for name in ("role", "email", "external_id", "phone", "name", "avatar", "signed_up_at", "last_seen_at"):
        if name in body:
            setattr(contact, name, body[name])
    if "owner_id" in body:
        contact.owner_id = _as_id(body["owner_id"])
    if "unsubscribed_from_emails" in body:
        contact.unsubscribed_from_emails = bool(body["unsubscribed_from_emails"])
    contact.custom_attributes.update(body.get("custom_attributes") or {})
    contact.updated_at = now_unix()
    return _ok(render.contact(state, contact, request.version))


def _refuse_duplicate(
    state: SandboxState, role: str, email: Any, external_id: Any, exclude: Contact | None = None
) -> None:
    duplicate = _duplicate_user(state, role, email, external_id, exclude)
    if duplicate is not None:
        raise ApiError(
            409, "conflict", f"A contact matching those details already exists with id={duplicate.id}"
        )


def _duplicate_user(
    state: SandboxState, role: str, email: Any, external_id: Any, exclude: Contact | None
) -> Contact | None:
    for contact in state.live_contacts():
        if contact is exclude:
            continue
        if external_id is not None and contact.external_id == external_id:
            return contact
        # Leads may share an email; users may not.
        same_email = email is not None and (contact.email or "").casefold() == email.casefold()
        if same_email and role == "user" and contact.role == "user":
            return contact
    return None


@router.route("GET", "/contacts")
def list_contacts(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    List contacts (``ListContacts``), paginated with ``?per_page=`` and ``?starting_after=``.

    :param state: Sandbox state.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``contact_list``.
    """
    per_page_text = request.query_value("per_page")
    try:
        per_page = None if per_page_text is None else int(per_page_text)
        page = search.parse_page_request(per_page, request.query_value("starting_after"), default_per_page=10)
    except (ValueError, search.QueryError) as error:
        raise ApiError(400, "parameter_invalid", f"invalid pagination: {error}") from None
    return _contact_list(state, state.live_contacts(), page, request.version)


@router.route("POST", "/contacts/search")
def search_contacts(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Search contacts (``SearchContacts``); pagination is in the body, not the query string.

    :param state: Sandbox state.
    :param request: The request, a ``search_request`` body.
    :param params: Path parameters (none).
    :return: ``contact_list``, or 400 for an invalid query.
    """
    body = _object_body(request, NOT_A_JSON_OBJECT)
    if "query" not in body:
        raise ApiError(400, "parameter_not_found", "query parameter is required")
    try:
        predicate = search.compile_query(body["query"])
        pagination = body.get("pagination") or {}
        if not isinstance(pagination, dict):
            raise search.QueryError("pagination must be an object")
        page = search.parse_page_request(
            pagination.get("per_page"), pagination.get("starting_after"), search.DEFAULT_PER_PAGE
        )
        # Merged contacts are excluded from search.
        matches = [contact for contact in state.live_contacts() if predicate(contact)]
        matches = search.sort_contacts(matches, body.get("sort"))
    except search.QueryError as error:
        raise ApiError(400, error.code, error.message) from None
    return _contact_list(state, matches, page, request.version)


def _contact_list(
    state: SandboxState, contacts: list[Contact], page: search.PageRequest, version: str
) -> ApiResponse:
    shown, pages = search.page_of(contacts, page)
    return _ok(
        {
            "type": "list",
            "data": [render.contact(state, contact, version) for contact in shown],
            "total_count": len(contacts),
            "pages": pages,
        }
    )


# -- conversations and tickets --------------------------------------------------------------------------


def _required_id(body: dict[str, Any], name: str) -> str:
    if body.get(name) is None:
        raise ApiError(400, "parameter_not_found", f"{name} is a required parameter.")
    value = _as_id(body[name])
    if value is None:
        raise ApiError(400, "parameter_invalid", f"{name} must be a string")
    return value


def _tagging_body(request: ApiRequest) -> dict[str, Any]:
    # No body at all is a missing admin_id (parameter_not_found), not a malformed body.
    return _object_body(request, NOT_A_JSON_OBJECT) if request.raw_body.strip() else {}


def _acting_admin(state: SandboxState, body: dict[str, Any]) -> Admin:
    # The body's admin_id (required) names who tags or untags.
    admin = state.admins.get(_required_id(body, "admin_id"))
    if admin is None:
        raise ADMIN_NOT_FOUND()
    return admin


def _attach(state: SandboxState, request: ApiRequest, item: Taggable) -> ApiResponse:
    body = _tagging_body(request)
    tag_id = _required_id(body, "id")
    admin = _acting_admin(state, body)
    tag = state.tags.get(tag_id)
    if tag is None:
        raise OBJECT_TAG_NOT_FOUND()
    # Tagging twice is harmless and keeps the first application.
    applied_at = item.tags.setdefault(tag.id, now_unix())
    applied_by = state.admins.get(item.applied_by.setdefault(tag.id, admin.id), admin)
    return _ok(render.tag_full(tag, applied_at, applied_by))


def _detach(state: SandboxState, request: ApiRequest, item: Taggable, tag_id: str) -> ApiResponse:
    admin = _acting_admin(state, _tagging_body(request))
    tag = state.tags.get(tag_id)
    if tag is None:
        raise OBJECT_TAG_NOT_FOUND()
    # Removing a tag the object does not carry is harmless.
    applied_at = item.tags.pop(tag.id, None)
    applied_by = state.admins.get(item.applied_by.pop(tag.id, admin.id), admin)
    return _ok(render.tag_full(tag, applied_at or now_unix(), applied_by))


def _conversation(state: SandboxState, conversation_id: str) -> Taggable:
    conversation = state.conversations.get(conversation_id)
    if conversation is None:
        raise CONVERSATION_NOT_FOUND()
    return conversation


def _ticket(state: SandboxState, ticket_id: str) -> Taggable:
    ticket = state.tickets.get(ticket_id)
    if ticket is None:
        raise TICKET_NOT_FOUND()
    return ticket


@router.route("POST", "/conversations/{conversation_id}/tags")
def attach_conversation_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Tag a conversation (``attachTagToConversation``).

    :param state: Sandbox state.
    :param request: The request, body ``{"id": tag_id, "admin_id": admin_id}`` (both required).
    :param params: ``conversation_id``.
    :return: ``tag`` applied by that admin; 404 ``not_found`` (conversation), ``admin_not_found`` or
        ``tag_not_found``; 400 ``parameter_not_found`` when ``id`` or ``admin_id`` is missing.
    """
    return _attach(state, request, _conversation(state, params["conversation_id"]))


@router.route("DELETE", "/conversations/{conversation_id}/tags/{tag_id}")
def detach_conversation_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Remove a tag from a conversation (``detachTagFromConversation``); the DELETE carries a JSON body.

    :param state: Sandbox state.
    :param request: The request, body ``{"admin_id": admin_id}`` (required).
    :param params: ``conversation_id`` and ``tag_id``.
    :return: ``tag``; 404 ``not_found`` (conversation), ``admin_not_found`` or ``tag_not_found``; 400
        ``parameter_not_found`` without ``admin_id``.
    """
    return _detach(state, request, _conversation(state, params["conversation_id"]), params["tag_id"])


@router.route("POST", "/tickets/{ticket_id}/tags", since=(2, 10))
def attach_ticket_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Tag a ticket (``attachTagToTicket``, from 2.10).

    :param state: Sandbox state.
    :param request: The request, body ``{"id": tag_id, "admin_id": admin_id}`` (both required).
    :param params: ``ticket_id``.
    :return: ``tag``; 404 ``ticket_not_found``, ``admin_not_found`` or ``tag_not_found``; 400
        ``parameter_not_found`` when ``id`` or ``admin_id`` is missing.
    """
    return _attach(state, request, _ticket(state, params["ticket_id"]))


@router.route("DELETE", "/tickets/{ticket_id}/tags/{tag_id}", since=(2, 10))
def detach_ticket_tag(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Remove a tag from a ticket (``detachTagFromTicket``, from 2.10); the DELETE carries a JSON body.

    :param state: Sandbox state.
    :param request: The request, body ``{"admin_id": admin_id}`` (required).
    :param params: ``ticket_id`` and ``tag_id``.
    :return: ``tag``; 404 ``ticket_not_found``, ``admin_not_found`` or ``tag_not_found``; 400
        ``parameter_not_found`` without ``admin_id``.
    """
    return _detach(state, request, _ticket(state, params["ticket_id"]), params["tag_id"])


# -- companies -------------------------------------------------------------------------------------------

# Types of the create_or_update_company_request fields (update_last_request_at is 2.16's, accepted by all).
_COMPANY_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "company_id": (str, int),
    "plan": (str,),
    "size": (int,),
    "website": (str,),
    "industry": (str,),
    "custom_attributes": (dict,),
    "remote_created_at": (int,),
    "monthly_spend": (int, float),
    "update_last_request_at": (bool,),
}
# "Note that this has an upper limit of 2**31-1".
MAX_MONTHLY_SPEND = 2**31 - 1
COMPANIES_PER_PAGE = 15


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _company_body(request: ApiRequest) -> dict[str, Any]:
    body = request.json_body()
    if not isinstance(body, dict):
        raise _bad_request("The body must be a JSON object")
    for name, value in body.items():
        if name not in _COMPANY_FIELD_TYPES:
            raise _bad_request(f"bad '{name}' parameter")
        _check_type(name, value, _COMPANY_FIELD_TYPES[name], code="bad_request")
    custom_attributes = body.get("custom_attributes") or {}
    if not all(isinstance(value, str) for value in custom_attributes.values()):
        # The schemas type every custom attribute value as a string.
        raise _bad_request("custom_attributes values must be strings")
    if body.get("monthly_spend", 0) > MAX_MONTHLY_SPEND:
        raise _bad_request(f"monthly_spend must not exceed {MAX_MONTHLY_SPEND}")
    if body.get("company_id") is None:
        raise _bad_request("company_id is required to create or update a company")
    return body


@router.route("POST", "/companies")
def create_or_update_company(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Create a company, or update the one with the same ``company_id`` (``createOrUpdateCompany``).

    ``company_id`` never changes; ``custom_attributes`` are merged into the existing ones.

    :param state: Sandbox state.
    :param request: The request, a ``create_or_update_company_request`` body.
    :param params: Path parameters (none).
    :return: ``company``, or 400 ``bad_request`` (unknown key, wrong type, no ``company_id``).
    """
    body = _company_body(request)
    company_id = str(body["company_id"])
    company = state.find_company(intercom_id=None, company_id=company_id) or state.add_company(
        company_id=company_id
    )
    for name in ("name", "plan", "size", "website", "industry", "remote_created_at"):
        if name in body:
            setattr(company, name, body[name])
    if "monthly_spend" in body:
        # "this will truncate floats"
        company.monthly_spend = int(body["monthly_spend"])
    company.custom_attributes.update(body.get("custom_attributes") or {})
    company.updated_at = now_unix()
    if body.get("update_last_request_at"):
        company.last_request_at = company.updated_at
    return _ok(render.company(state, company, request.version))


def _page_number(request: ApiRequest, name: str, default: int) -> int:
    text = request.query_value(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise ApiError(400, "parameter_invalid", f"{name} must be an integer") from None
    # The spec sets no minimum: out-of-range values fall back to the default rather than fail.
    return number if number >= 1 else default


@router.route("GET", "/companies")
def retrieve_companies(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Find companies (``retrieveCompany``), always answered as a ``company_list`` as every spec version says.

    ``?company_id=`` or ``?name=`` find one company (404 ``company_not_found`` when none matches);
    ``?tag_id=`` lists the companies carrying that tag; ``?segment_id=`` lists none (segment membership is
    not modelled); no filter lists every company. Pages by number with ``page`` (from 1) and ``per_page``
    (default 15); ``pages`` has ``page``, ``per_page`` and ``total_pages`` and no ``next``.

    :param state: Sandbox state.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``company_list``, or 404 ``company_not_found``.
    """
    page = _page_number(request, "page", 1)
    per_page = _page_number(request, "per_page", COMPANIES_PER_PAGE)
    companies = list(state.companies.values())
    company_id, name = request.query_value("company_id"), request.query_value("name")
    tag_id, segment_id = request.query_value("tag_id"), request.query_value("segment_id")
    if company_id is not None or name is not None:
        # company_id wins when both are given.
        matches = [
            company
            for company in companies
            if (company.company_id == company_id if company_id is not None else company.name == name)
        ]
        if not matches:
            raise COMPANY_NOT_FOUND()
        companies = matches[:1]
    elif tag_id is not None:
        companies = [company for company in companies if tag_id in company.tags]
    elif segment_id is not None:
        companies = []
    start = (page - 1) * per_page
    return _ok(
        {
            "type": "list",
            "data": [
                render.company(state, company, request.version)
                for company in companies[start : start + per_page]
            ],
            "total_count": len(companies),
            "pages": {
                "type": "pages",
                "page": page,
                "per_page": per_page,
                "total_pages": math.ceil(len(companies) / per_page),
            },
        }
    )


@router.route("GET", "/companies/{company_id}")
def retrieve_company_by_id(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Return one company by Intercom's id (``RetrieveACompanyById``).

    :param state: Sandbox state.
    :param request: The request.
    :param params: ``company_id``, Intercom's id of the company (not the customer's ``company_id``).
    :return: ``company``, or 404 ``company_not_found``.
    """
    company = state.companies.get(params["company_id"])
    if company is None:
        raise COMPANY_NOT_FOUND()
    return _ok(render.company(state, company, request.version))


# -- admins ----------------------------------------------------------------------------------------------


@router.route("GET", "/me")
def identify_admin(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Return the admin owning the access token (``identifyAdmin``).

    :param state: Sandbox state.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``admin_with_app``.
    """
    return _ok(render.admin_with_app(state.primary_admin()))
