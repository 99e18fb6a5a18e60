"""Routes of ``/companies``: create or update a company, find or list companies, show one by id."""

from __future__ import annotations

import math
from typing import Any

from airflow_provider_intercom.sandbox import render
from airflow_provider_intercom.sandbox.backend import IntercomBackend, find
from airflow_provider_intercom.sandbox.errors import (
    BadRequest,
    CompanyNotFound,
    ParameterInvalid,
    ParameterNotFound,
)
from airflow_provider_intercom.sandbox.routes.params import check_type, object_body
from airflow_provider_intercom.sandbox.routing import ApiRequest, ApiResponse, Router, ok

router = Router()

# Types of the create_or_update_company_request fields (update_last_request_at is 2.16's, accepted by all).
_COMPANY_FIELD_TYPES: dict[str, tuple[type | None, ...]] = {
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


def _company_body(request: ApiRequest) -> dict[str, Any]:
    body = object_body(request, lambda: BadRequest("The body must be a JSON object"))
    for name, value in body.items():
        if name not in _COMPANY_FIELD_TYPES:
            raise BadRequest(f"bad '{name}' parameter")
        check_type(name, value, _COMPANY_FIELD_TYPES[name], BadRequest)
    custom_attributes = body.get("custom_attributes") or {}
    if not all(isinstance(value, str) for value in custom_attributes.values()):
        # The schemas type every custom attribute value as a string.
        raise BadRequest("custom_attributes values must be strings")
    if body.get("monthly_spend", 0) > MAX_MONTHLY_SPEND:
        raise BadRequest(f"monthly_spend must not exceed {MAX_MONTHLY_SPEND}")
    if body.get("company_id") is None:
        raise ParameterNotFound("company_id is a required parameter.")
    return body


@router.route("POST", "/companies")
def create_or_update_company(
    backend: IntercomBackend, request: ApiRequest, params: dict[str, str]
) -> ApiResponse:
    """
    Create a company, or update the one with the same ``company_id`` (``createOrUpdateCompany``).

    ``company_id`` never changes; ``custom_attributes`` are merged into the existing ones.

    :param backend: The sandbox backend.
    :param request: The request, a ``create_or_update_company_request`` body.
    :param params: Path parameters (none).
    :return: ``company``, or 400 ``bad_request`` (unknown key, wrong type, no ``company_id``).
    """
    company = backend.create_or_update_company(_company_body(request))
    return ok(render.company(backend.state, company, request.version))


def _page_number(request: ApiRequest, name: str, default: int) -> int:
    text = request.query_value(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise ParameterInvalid(f"{name} must be an integer") from None
    # The spec sets no minimum: out-of-range values fall back to the default rather than fail.
    return number if number >= 1 else default


@router.route("GET", "/companies")
def retrieve_companies(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Find companies (``retrieveCompany``), always answered as a ``company_list`` as every spec version says.

    ``?company_id=`` or ``?name=`` find one company (404 ``company_not_found`` when none matches);
    ``?tag_id=`` lists the companies carrying that tag; ``?segment_id=`` lists none (segment membership is
    not modelled); no filter lists every company. Pages by number with ``page`` (from 1) and ``per_page``
    (default 15); ``pages`` has ``page``, ``per_page`` and ``total_pages``, and at 2.11 on the last page
    ``next: null``, as production answers.

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: Path parameters (none).
    :return: ``company_list``, or 404 ``company_not_found``.
    """
    page = _page_number(request, "page", 1)
    per_page = _page_number(request, "per_page", COMPANIES_PER_PAGE)
    query = request.query_value
    companies = backend.companies_matching(
        query("company_id"), query("name"), query("tag_id"), query("segment_id")
    )
    start, total_pages = (page - 1) * per_page, math.ceil(len(companies) / per_page)
    pages: dict[str, Any] = {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages}
    if request.version == "2.11" and page >= total_pages:
        pages["next"] = None  # production's 2.11 answer names the last page's next, as null
    return ok(
        {
            "type": "list",
            "data": [
                render.company(backend.state, company, request.version)
                for company in companies[start : start + per_page]
            ],
            "total_count": len(companies),
            "pages": pages,
        }
    )


@router.route("GET", "/companies/{company_id}")
def retrieve_company_by_id(
    backend: IntercomBackend, request: ApiRequest, params: dict[str, str]
) -> ApiResponse:
    """
    Return one company by Intercom's id (``RetrieveACompanyById``).

    :param backend: The sandbox backend.
    :param request: The request.
    :param params: ``company_id``, Intercom's id of the company (not the customer's ``company_id``).
    :return: ``company``, or 404 ``company_not_found``.
    """
    company = find(backend.state.companies, params["company_id"], CompanyNotFound)
    return ok(render.company(backend.state, company, request.version))
