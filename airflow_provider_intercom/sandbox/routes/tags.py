"""Routes of ``/tags``: list, find, create or rename, bulk tag and untag users or companies, delete."""

from __future__ import annotations

from typing import Any

from airflow_provider_intercom.sandbox import render
from airflow_provider_intercom.sandbox.backend import Found, IntercomBackend
from airflow_provider_intercom.sandbox.errors import (
    ApiError,
    CompanyNotFound,
    InvalidTagParameters,
    ParameterNotFound,
    UserNotFound,
)
from airflow_provider_intercom.sandbox.routes.params import as_id, object_body
from airflow_provider_intercom.sandbox.routing import ApiRequest, ApiResponse, Router, ok

router = Router()


@router.route("GET", "/tags")
def list_tags(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    List every tag of the workspace (``listTags``; not paginated).

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``tag_list``.
    """
    return ok(render.tag_list(list(backend.state.tags.values())))


@router.route("POST", "/tags")
def create_tag(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Create or rename a tag, or tag/untag users or companies with it (``createTag``).

    The body variant is picked by the presence of ``users`` or ``companies``. Up to 2.15 one unknown user or
    company fails the whole request with 404 and tags nothing; from 2.16 unknown ones are skipped and the
    answer lists what was done.

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``tag_basic`` (2.16+: ``tag_create_response``).
    """
    body = object_body(request, InvalidTagParameters)
    name = body.get("name")
    if name is None:
        raise ParameterNotFound("name is a required parameter.")
    if not isinstance(name, str) or not name.strip():
        raise InvalidTagParameters()
    users, companies = body.get("users"), body.get("companies")
    if users is not None and companies is not None:
        raise InvalidTagParameters()
    if users is not None:
        return _tag_in_bulk(backend, request, name, _found_contacts(backend, users), UserNotFound, "users")
    if companies is not None:
        found = _found_companies(backend, companies)
        return _tag_in_bulk(backend, request, name, found, CompanyNotFound, "companies")
    if body.get("id") is None:
        return ok(render.tag_basic(backend.create_tag(name)))
    tag_id = as_id(body["id"])
    if tag_id is None:
        raise InvalidTagParameters()
    return ok(render.tag_basic(backend.rename_tag(tag_id, name)))


def _items(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise InvalidTagParameters()
    return items


def _untag_flag(item: dict[str, Any]) -> bool:
    # "Always set to true"; the 2.16 example sends the string "true".
    return item.get("untag") in (True, "true")


def _found_contacts(backend: IntercomBackend, items: Any) -> list[Found]:
    found: list[Found] = []
    for item in _items(items):
        contact_id = as_id(item.get("id")) if isinstance(item, dict) else None
        if contact_id is None:
            raise InvalidTagParameters()
        found.append((backend.live_contact(contact_id), _untag_flag(item)))
    return found


def _found_companies(backend: IntercomBackend, items: Any) -> list[Found]:
    found: list[Found] = []
    for item in _items(items):
        if not isinstance(item, dict):
            raise InvalidTagParameters()
        intercom_id, company_id = as_id(item.get("id")), as_id(item.get("company_id"))
        if intercom_id is None and company_id is None:
            raise InvalidTagParameters()
        found.append(
            (backend.find_company(intercom_id=intercom_id, company_id=company_id), _untag_flag(item))
        )
    return found


def _tag_in_bulk(
    backend: IntercomBackend,
    request: ApiRequest,
    name: str,
    found: list[Found],
    not_found: type[ApiError],
    result_key: str,
) -> ApiResponse:
    skipping = render.skips_unknown_entities(request.version)
    tag, results = backend.tag_in_bulk(name, found, skipping, not_found)
    if not skipping:
        return ok(render.tag_basic(tag))
    other_key = "companies" if result_key == "users" else "users"
    return ok({**render.tag_basic(tag), result_key: render.tagged_entities(results), other_key: []})


@router.route("GET", "/tags/{tag_id}")
def find_tag(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Return one tag (``findTag``).

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: ``tag_id``.
    :return: ``tag_basic``, or 404 ``not_found``.
    """
    return ok(render.tag_basic(backend.tag(params["tag_id"])))


@router.route("DELETE", "/tags/{tag_id}")
def delete_tag(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Delete a tag and untag everything carrying it (``deleteTag``).

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: ``tag_id``.
    :return: 200 without content; 404 ``not_found``; 400 ``tag_has_dependent_objects`` while a segment
        uses the tag.
    """
    backend.delete_tag(params["tag_id"])
    return ApiResponse.json(200, None)
