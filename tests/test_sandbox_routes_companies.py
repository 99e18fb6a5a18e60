"""The /companies routes."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import TRIAL, VIP, Api, assert_error

pytest_plugins = ["tests.sandbox_fixtures"]


def test_create_or_update_company_matches_on_company_id(sandbox: IntercomSandbox, api: Api) -> None:
    body = {
        "company_id": "initech",
        "name": "Initech",
        "plan": "Enterprise",
        "size": 250,
        "monthly_spend": 155.98,
        "custom_attributes": {"region": "emea"},
    }
    created = api("POST", "/companies", json=body)
    assert created.status_code == 200, created.text
    company = created.json()
    assert (company["type"], company["company_id"], company["name"], company["size"]) == (
        "company",
        "initech",
        "Initech",
        250,
    )
    assert company["monthly_spend"] == 155
    assert (company["plan"]["type"], company["plan"]["name"]) == ("plan", "Enterprise")
    assert company["tags"] == {"type": "tag.list", "tags": []}
    assert company["id"] not in ("c1", "c2")

    updated = api("POST", "/companies", json={"company_id": "initech", "custom_attributes": {"tier": "gold"}})
    assert updated.json()["id"] == company["id"]
    assert updated.json()["name"] == "Initech"
    assert updated.json()["custom_attributes"] == {"region": "emea", "tier": "gold"}
    assert len(sandbox.state.companies) == 3
    renamed = api("POST", "/companies", json={"company_id": "acme", "name": "Acme Corp"})
    assert renamed.json()["id"] == "c1"
    assert sandbox.state.companies["c1"].name == "Acme Corp"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"test": "invalid"}, "bad 'test' parameter"),
        ({"company_id": "x", "size": "100"}, None),
        ({"company_id": "x", "custom_attributes": {"paid": True}}, None),
        ({"company_id": "x", "monthly_spend": 2**31}, None),
        ({"company_id": "x", "tags": [TRIAL]}, "bad 'tags' parameter"),
        ("just a string", None),
    ],
)
def test_create_company_rejects_invalid_bodies(
    sandbox: IntercomSandbox, api: Api, body: Any, message: str | None
) -> None:
    assert_error(api("POST", "/companies", json=body), 400, "bad_request", message)
    assert len(sandbox.state.companies) == 2


def test_company_fields_2_11_requires_are_always_sent(sandbox: IntercomSandbox) -> None:
    required_by_2_11 = {"name", "size", "website", "industry", "last_request_at"}
    old = Api(sandbox, "2.11")("GET", "/companies/c2").json()
    assert {key: old[key] for key in required_by_2_11} == {
        "name": "",
        "size": 0,
        "website": "",
        "industry": "",
        "last_request_at": 0,
    }
    new = Api(sandbox, "2.16")("GET", "/companies/c2").json()
    assert not required_by_2_11 & new.keys()
    assert new["company_id"] == "globex"


def test_find_a_company_by_company_id_or_name_answers_a_list(api: Api) -> None:
    for query in ({"company_id": "acme"}, {"name": "Acme"}):
        response = api("GET", "/companies", params=query)
        assert response.status_code == 200
        body = response.json()
        assert (body["type"], body["total_count"]) == ("list", 1)
        assert [company["id"] for company in body["data"]] == ["c1"]
    for query in ({"company_id": "nope"}, {"name": "Nope"}):
        assert_error(api("GET", "/companies", params=query), 404, "company_not_found", "Company Not Found")
    assert api("GET", "/companies/c1").json()["company_id"] == "acme"
    assert_error(api("GET", "/companies/acme"), 404, "company_not_found", "Company Not Found")


def test_list_companies_by_tag_pages_by_number(sandbox: IntercomSandbox, api: Api) -> None:
    for number in range(5):
        sandbox.state.add_company(id=f"t{number}", company_id=f"tagged-{number}", tags=[VIP])
    sandbox.state.companies["c1"].tags[TRIAL] = 1
    pages = [
        api("GET", "/companies", params={"tag_id": VIP, "per_page": 2, "page": page}).json()
        for page in (1, 2, 3)
    ]
    assert [[company["id"] for company in page["data"]] for page in pages] == [
        ["t0", "t1"],
        ["t2", "t3"],
        ["t4"],
    ]
    assert {page["total_count"] for page in pages} == {5}
    # At 2.11 production names the last page's next, as null.
    assert [page["pages"] for page in pages] == [
        {"type": "pages", "page": number, "per_page": 2, "total_pages": 3} for number in (1, 2)
    ] + [{"type": "pages", "page": 3, "per_page": 2, "total_pages": 3, "next": None}]
    assert pages[0]["data"][0]["tags"] == {
        "type": "tag.list",
        "tags": [{"type": "tag", "id": VIP, "name": "VIP"}],
    }
    default = api("GET", "/companies", params={"tag_id": VIP}).json()
    assert (len(default["data"]), default["pages"]["per_page"]) == (5, 15)
    assert api("GET", "/companies", params={"tag_id": "999"}).json()["data"] == []
    assert api("GET", "/companies").json()["total_count"] == 7
    assert_error(api("GET", "/companies", params={"page": "first"}), 400, "parameter_invalid")
