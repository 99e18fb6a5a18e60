"""The bodies of the bulk ``POST /tags`` calls, built and checked before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_intercom._validation import validate_id, validate_tag_name
from airflow_provider_intercom.exceptions import IntercomConfigurationError


def users_body(tag_name: str, contact_ids: Iterable[str]) -> dict[str, Any]:
    """
    Return ``{"name", "users": [{"id"}]}`` for tagging many contacts at once.

    :param tag_name: the tag's name.
    :param contact_ids: Intercom contact ids, each checked and named by its position in errors.
    """
    users = [{"id": validate_id(contact_id, f"contact_ids[{i}]")} for i, contact_id in enumerate(contact_ids)]
    return {"name": validate_tag_name(tag_name), "users": users}


def companies_body(tag_name: str, companies: Iterable[Mapping[str, str]], *, untag: bool) -> dict[str, Any]:
    """
    Return ``{"name", "companies": [...]}`` for tagging, or untagging, many companies at once.

    :param tag_name: the tag's name.
    :param companies: ``{"id": <Intercom id>}`` or ``{"company_id": <your id>}`` items, or both ids.
    :param untag: mark every item ``untag: true`` (2.11 requires it on each item of an untag call).
    """
    items = []
    for index, company in enumerate(companies):
        keys = set(company) if isinstance(company, Mapping) else set()
        if not keys or not keys <= {"id", "company_id"}:
            raise IntercomConfigurationError(
                f"companies[{index}]={company!r} must be {{'id': ...}}, {{'company_id': ...}} or both"
            )
        item: dict[str, Any] = {
            key: validate_id(value, f"companies[{index}].{key}") for key, value in company.items()
        }
        if untag:
            item["untag"] = True
        items.append(item)
    return {"name": validate_tag_name(tag_name), "companies": items}
