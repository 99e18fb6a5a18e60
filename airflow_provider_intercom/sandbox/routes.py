"""
The sandbox's REST routes: each maps (method, path template) to a handler over :class:`SandboxState`.

Handlers return an :class:`ApiResponse` or raise :class:`ApiError`; they run with the state lock held, so
each request is applied atomically. To add an endpoint, write a handler and decorate it with
``@router.route("METHOD", "/path/{param}")``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote

from airflow_provider_intercom.sandbox import render, search
from airflow_provider_intercom.sandbox.models import Company, Contact, SandboxState, Tag, now_unix


@dataclass(frozen=True)
class ApiRequest:
    """The parts of an HTTP request the handlers read."""

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
    """What a handler answers: a status, a JSON body (None for no content) and extra headers."""

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
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        """
        Register the decorated function as the handler of ``method template``.

        :param method: HTTP method.
        :param template: Path such as ``/contacts/{contact_id}/tags``.
        :return: The decorator.
        """
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")

        def register(handler: Handler) -> Handler:
            self._routes.append((method, pattern, handler))
            return handler

        return register

    def dispatch(self, state: SandboxState, request: ApiRequest) -> ApiResponse:
        """
        Run the handler for a request and turn any :class:`ApiError` into an error response.

        :param state: The sandbox state.
        :param request: The request.
        :return: The response.
        """
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
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
        found.append((state.contacts.get(contact_id), _untag_flag(item)))
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
    :return: 200 without content, or 404 ``not_found``.
    """
    state.delete_tag(_tag(state, params["tag_id"]).id)
    return ApiResponse(200, None)


def _tag(state: SandboxState, tag_id: str) -> Tag:
    tag = state.tags.get(tag_id)
    if tag is None:
        raise TAG_NOT_FOUND()
    return tag


# -- contacts --------------------------------------------------------------------------------------------


def _contact(state: SandboxState, contact_id: str) -> Contact:
    contact = state.contacts.get(contact_id)
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
    :return: ``contact``, or 404 ``User Not Found``.
    """
    return _ok(render.contact(state, _contact(state, params["contact_id"]), request.version))


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


def _check_type(name: str, value: Any, allowed: tuple[type | None, ...]) -> None:
    if value is None and None in allowed:
        return
    # bool is an int subclass in Python, not in JSON.
    if isinstance(value, bool) and bool not in allowed:
        raise ApiError(400, "parameter_invalid", f"{name} has the wrong type")
    if not any(kind is not None and isinstance(value, kind) for kind in allowed):
        raise ApiError(400, "parameter_invalid", f"{name} has the wrong type")


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
    body = _object_body(
        request, partial(ApiError, 400, "parameter_invalid", "The body must be a JSON object")
    )
    for name, allowed in _CONTACT_FIELD_TYPES.items():
        if name in body:
            _check_type(name, body[name], allowed)
    owner_id = body.get("owner_id")
    if owner_id is not None and _as_id(owner_id) is None:
        raise ApiError(400, "parameter_invalid", "owner_id has the wrong type")
    if render.version_at_least(request.version, (2, 16)) and body.get("email_verified") is not None:
        _check_type("email_verified", body["email_verified"], (bool,))
        if body.get("email") is None:
            raise ApiError(400, "parameter_invalid", "email_verified must be sent together with an email")
    if all(body.get(key) is None for key in ("email", "external_id", "role")):
        raise ApiError(400, "parameter_invalid", "Please provide an email, external_id or role")
    avatar = body.get("avatar")
    if avatar is not None and not _ABSOLUTE_HTTP_URL.fullmatch(avatar):
        raise ApiError(400, "parameter_invalid", "avatar must be an absolute http(s) URL")
    role = body.get("role") or "user"
    if role not in ("user", "lead"):
        raise ApiError(400, "parameter_invalid", "role must be either user or lead")
    duplicate = _duplicate_user(state, role, body.get("email"), body.get("external_id"))
    if duplicate is not None:
        raise ApiError(
            409, "conflict", f"A contact matching those details already exists with id={duplicate.id}"
        )
    record = {key: body.get(key) for key in (*_CONTACT_FIELD_TYPES, "owner_id")}
    contact = state.add_contact({**record, "role": role, "tags": []})
    return _ok(render.contact(state, contact, request.version))


def _duplicate_user(state: SandboxState, role: str, email: Any, external_id: Any) -> Contact | None:
    for contact in state.contacts.values():
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
    return _contact_list(state, list(state.contacts.values()), page, request.version)


@router.route("POST", "/contacts/search")
def search_contacts(state: SandboxState, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Search contacts (``SearchContacts``); pagination is in the body, not the query string.

    :param state: Sandbox state.
    :param request: The request, a ``search_request`` body.
    :param params: Path parameters (none).
    :return: ``contact_list``, or 400 for an invalid query.
    """
    body = _object_body(
        request, partial(ApiError, 400, "parameter_invalid", "The body must be a JSON object")
    )
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
        matches = [contact for contact in state.contacts.values() if predicate(contact)]
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
