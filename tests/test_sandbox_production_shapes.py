"""
Answers the OpenAPI specs do not fully describe, as public recordings of Intercom's production API (2.11
and 2.15) show them: the sandbox answers the same way, and the client reads both shapes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import ADMIN, ALICE, TRIAL, VIP, Api, assert_error

pytest_plugins = ["tests.sandbox_fixtures"]

RECORDED = ["2.11", "2.15"]
EMPTY_LIST = {"type": "list", "data": [], "total_count": 0, "has_more": False}


@pytest.mark.parametrize("version", RECORDED)
def test_contacts_carry_the_fields_beyond_the_schema(sandbox: IntercomSandbox, version: str) -> None:
    contact = Api(sandbox, version)("GET", f"/contacts/{ALICE}").json()
    for field in ("opted_in_subscription_types", "opted_out_subscription_types"):
        assert {key: value for key, value in contact[field].items() if key != "url"} == EMPTY_LIST
        assert contact[field]["url"].startswith(f"/contacts/{ALICE}/")
    assert {
        key: contact[key] for key in ("utm_campaign", "utm_content", "utm_medium", "utm_source")
    } == dict.fromkeys(("utm_campaign", "utm_content", "utm_medium", "utm_source"))
    assert {"country_code", "continent_code"} <= contact["location"].keys()


def test_a_company_list_at_2_11_names_a_null_next(sandbox: IntercomSandbox) -> None:
    sandbox.state.add_company(company_id="initech", tags=[VIP])
    pages = Api(sandbox, "2.11")("GET", "/companies", params={"tag_id": VIP}).json()["pages"]
    assert pages == {"type": "pages", "next": None, "page": 1, "per_page": 15, "total_pages": 1}


@pytest.mark.parametrize("version", RECORDED)
def test_a_single_page_search_has_no_next(sandbox: IntercomSandbox, version: str) -> None:
    query = {"query": {"field": "id", "operator": "=", "value": ALICE}, "pagination": {"per_page": 50}}
    answer = Api(sandbox, version)("POST", "/contacts/search", json=query).json()
    assert answer["total_count"] == 1
    assert "next" not in answer["pages"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "vip", "users": [{"id": ALICE}]},
        {"name": "vip", "companies": [{"company_id": "acme"}]},
        {"name": "vip", "users": [{"id": ALICE, "untag": True}]},
    ],
    ids=["users", "companies", "untag users"],
)
def test_a_bulk_tag_at_2_11_answers_the_tag_alone(sandbox: IntercomSandbox, body: dict[str, Any]) -> None:
    answer = Api(sandbox, "2.11")("POST", "/tags", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"type": "tag", "id": VIP, "name": "VIP"}


@pytest.mark.parametrize("version", RECORDED)
def test_a_conversation_tag_answers_who_applied_it_and_an_untag_answers_nulls(
    sandbox: IntercomSandbox, version: str
) -> None:
    api = Api(sandbox, version)
    tagged = api("POST", "/conversations/1001/tags", json={"id": VIP, "admin_id": ADMIN}).json()
    assert tagged["applied_by"] == {"type": "admin", "id": ADMIN}
    assert isinstance(tagged["applied_at"], int)
    untagged = api("DELETE", f"/conversations/1001/tags/{VIP}", json={"admin_id": ADMIN}).json()
    assert (untagged["applied_at"], untagged["applied_by"]) == (None, None)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", f"/contacts/{ALICE}/tags", {}, "id"),
        ("POST", "/conversations/1001/tags", {"admin_id": ADMIN}, "id"),
        ("POST", "/conversations/1001/tags", {"id": TRIAL}, "admin_id"),
        ("POST", "/tags", {"users": [{"id": ALICE}]}, "name"),
        ("POST", "/companies", {"name": "no id"}, "company_id"),
        ("POST", "/contacts/search", {"pagination": {"per_page": 5}}, "query"),
    ],
)
@pytest.mark.parametrize("version", RECORDED)
def test_a_missing_required_body_field_is_parameter_not_found_everywhere(
    sandbox: IntercomSandbox, version: str, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = Api(sandbox, version)(method, path, data=json.dumps(body))
    assert_error(response, 400, "parameter_not_found", f"{field} is a required parameter.")


def test_the_hook_reads_both_page_shapes(sandbox: IntercomSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_intercom.hooks.intercom import IntercomHook

    monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps(sandbox.airflow_connection("2.11")))
    sandbox.state.add_company(company_id="initech", tags=[VIP])
    hook = IntercomHook()
    assert [company["company_id"] for company in hook.list_companies(tag_id=VIP)] == ["initech"]
    assert [
        contact["id"] for contact in hook.search_contacts({"field": "id", "operator": "=", "value": ALICE})
    ] == [ALICE]
