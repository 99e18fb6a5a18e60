"""Routes of ``/contacts``: show, create, update, list and search contacts, and each contact's tags."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_intercom.sandbox import render, search
from airflow_provider_intercom.sandbox.backend import IntercomBackend
from airflow_provider_intercom.sandbox.errors import (
    NotAJsonObject,
    ParameterInvalid,
    ParameterNotFound,
    QueryInvalid,
)
from airflow_provider_intercom.sandbox.models import Contact, now_unix
from airflow_provider_intercom.sandbox.routes.params import as_id, check_type, object_body
from airflow_provider_intercom.sandbox.routing import ApiRequest, ApiResponse, Router, ok

router = Router()

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


# -- a contact's tags --------------------------------------------------------------------------------------


@router.route("GET", "/contacts/{contact_id}/tags")
def list_contact_tags(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    List the tags of one contact (``listTagsForAContact``).

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: ``contact_id``.
    :return: ``tag_list``, or 404 ``User Not Found``.
    """
    return ok(render.tag_list(backend.contact_tags(backend.contact(params["contact_id"]))))


@router.route("POST", "/contacts/{contact_id}/tags")
def attach_contact_tag(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Tag a contact (``attachTagToContact``); tagging twice is harmless.

    :param backend: The sandbox backend.
    :param request: The request, body ``{"id": tag_id}``.
    :param params: ``contact_id``.
    :return: ``tag`` with ``applied_at``/``applied_by``, or 404.
    """
    contact = backend.contact(params["contact_id"])
    body = object_body(request, lambda: ParameterInvalid("The body must hold the tag id"))
    if body.get("id") is None:
        raise ParameterNotFound("id is a required parameter.")
    tag_id = as_id(body.get("id"))
    if tag_id is None:
        raise ParameterInvalid("id must be the tag id, a string")
    tag = backend.tag(tag_id)
    applied_at = backend.attach_contact_tag(contact, tag)
    return ok(render.tag_full(tag, applied_at, backend.state.primary_admin()))


@router.route("DELETE", "/contacts/{contact_id}/tags/{tag_id}")
def detach_contact_tag(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Remove a tag from a contact (``detachTagFromContact``); removing an absent tag is harmless.

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: ``contact_id`` and ``tag_id``.
    :return: ``tag``, or 404.
    """
    contact = backend.contact(params["contact_id"])
    tag = backend.tag(params["tag_id"])
    applied_at = backend.detach_contact_tag(contact, tag)
    return ok(render.tag_full(tag, applied_at or now_unix(), backend.state.primary_admin()))


# -- contacts --------------------------------------------------------------------------------------------


@router.route("GET", "/contacts/{contact_id}")
def show_contact(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Return one contact (``ShowContact``).

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: ``contact_id``.
    :return: ``contact``, or 404 ``User Not Found``; for a merged contact from 2.16 on, 410 ``contact_merged``
        with ``Link: </contacts/{canonical id}>; rel="canonical"`` (404 before 2.16).
    """
    report_merge = render.version_at_least(request.version, (2, 16))
    contact = backend.contact(params["contact_id"], report_merge=report_merge)
    return _contact(backend, contact, request)


def _contact(backend: IntercomBackend, contact: Contact, request: ApiRequest) -> ApiResponse:
    return ok(render.contact(backend.state, contact, request.version))


def _check_contact_fields(body: dict[str, Any], version: str) -> None:
    # The checks shared by create_contact_request and update_contact_request.
    for name, allowed in _CONTACT_FIELD_TYPES.items():
        if name in body:
            check_type(name, body[name], allowed)
    owner_id = body.get("owner_id")
    if owner_id is not None and as_id(owner_id) is None:
        raise ParameterInvalid("owner_id has the wrong type")
    if render.version_at_least(version, (2, 16)) and body.get("email_verified") is not None:
        check_type("email_verified", body["email_verified"], (bool,))
        if body.get("email") is None:
            raise ParameterInvalid("email_verified must be sent together with an email")
    avatar = body.get("avatar")
    if avatar is not None and not _ABSOLUTE_HTTP_URL.fullmatch(avatar):
        raise ParameterInvalid("avatar must be an absolute http(s) URL")
    if body.get("role") not in (None, "user", "lead"):
        raise ParameterInvalid("role must be either user or lead")


def _contact_body(request: ApiRequest) -> dict[str, Any]:
    body = object_body(request, NotAJsonObject)
    _check_contact_fields(body, request.version)
    return body


@router.route("POST", "/contacts")
def create_contact(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Create a contact (``CreateContact``): needs ``email``, ``external_id`` or ``role``.

    :param backend: The sandbox backend.
    :param request: The request, a ``create_contact_request`` body.
    :param params: Path parameters (none).
    :return: ``contact``; 400 for an invalid body; 409 ``conflict`` when a user already has that email or
        external_id.
    """
    body = _contact_body(request)
    if all(body.get(key) is None for key in ("email", "external_id", "role")):
        raise ParameterInvalid("Please provide an email, external_id or role")
    record = {key: body.get(key) for key in (*_CONTACT_FIELD_TYPES, "owner_id")}
    return _contact(backend, backend.create_contact({**record, "role": body.get("role") or "user"}), request)


@router.route("PUT", "/contacts/{contact_id}")
def update_contact(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Update a contact (``UpdateContact``) with the fields of ``update_contact_request``.

    Keys the request schema does not have are ignored; ``tags`` in particular changes nothing, since tags
    change only through the tag endpoints. ``custom_attributes`` are merged into the existing ones.

    :param backend: The sandbox backend.
    :param request: The request, an ``update_contact_request`` body.
    :param params: ``contact_id``.
    :return: ``contact``; 404 ``User Not Found``; 400 for an invalid body; 409 ``conflict`` when another
        user already has the new email or external_id.
    """
    contact = backend.contact(params["contact_id"])
    changes = _contact_body(request)
    if "owner_id" in changes:
        changes["owner_id"] = as_id(changes["owner_id"])
    return _contact(backend, backend.update_contact(contact, changes), request)


@router.route("GET", "/contacts")
def list_contacts(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    List contacts (``ListContacts``), paginated with ``?per_page=`` and ``?starting_after=``.

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``contact_list``.
    """
    per_page_text = request.query_value("per_page")
    try:
        per_page = None if per_page_text is None else int(per_page_text)
        page = search.parse_page_request(per_page, request.query_value("starting_after"), default_per_page=10)
    except (ValueError, search.QueryError) as error:
        raise ParameterInvalid(f"invalid pagination: {error}") from None
    return _contact_list(backend, backend.state.live_contacts(), page, request.version)


@router.route("POST", "/contacts/search")
def search_contacts(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Search contacts (``SearchContacts``); pagination is in the body, not the query string.

    :param backend: The sandbox backend.
    :param request: The request, a ``search_request`` body.
    :param params: Path parameters (none).
    :return: ``contact_list``, or 400 for an invalid query.
    """
    body = object_body(request, NotAJsonObject)
    if "query" not in body:
        raise ParameterNotFound("query is a required parameter.")
    try:
        predicate = search.compile_query(body["query"])
        pagination = body.get("pagination") or {}
        if not isinstance(pagination, dict):
            raise search.QueryError("pagination must be an object")
        page = search.parse_page_request(
            pagination.get("per_page"), pagination.get("starting_after"), search.DEFAULT_PER_PAGE
        )
        # Merged contacts are excluded from search.
        matches = [contact for contact in backend.state.live_contacts() if predicate(contact)]
        matches = search.sort_contacts(matches, body.get("sort"))
    except search.QueryError as error:
        raise QueryInvalid(error.code, error.message) from None
    return _contact_list(backend, matches, page, request.version)


def _contact_list(
    backend: IntercomBackend, contacts: list[Contact], page: search.PageRequest, version: str
) -> ApiResponse:
    shown, pages = search.page_of(contacts, page)
    return ok(
        {
            "type": "list",
            "data": [render.contact(backend.state, contact, version) for contact in shown],
            "total_count": len(contacts),
            "pages": pages,
        }
    )
