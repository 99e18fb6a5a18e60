"""The /contacts routes: a contact's tags, show, create, update, list, merged contacts and search."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import ALICE, BOB, CAROL, TRIAL, VIP, Api, assert_error, tag_ids_of

pytest_plugins = ["tests.sandbox_fixtures"]


def test_attach_list_and_detach_a_contact_tag(api: Api) -> None:
    before = time.time()
    attached = api("POST", f"/contacts/{ALICE}/tags", json={"id": VIP})
    assert attached.status_code == 200
    tag = attached.json()
    assert (tag["type"], tag["id"], tag["name"]) == ("tag", VIP, "VIP")
    assert math.floor(before) <= tag["applied_at"] <= time.time()
    assert tag["applied_by"] == {"type": "admin", "id": "7"}
    # Tagging twice is harmless and keeps the first application time.
    again = api("POST", f"/contacts/{ALICE}/tags", json={"id": VIP})
    assert again.json()["applied_at"] == tag["applied_at"]
    assert tag_ids_of(api, ALICE) == [TRIAL, VIP]

    detached = api("DELETE", f"/contacts/{ALICE}/tags/{VIP}")
    assert detached.status_code == 200
    assert detached.json()["id"] == VIP
    assert tag_ids_of(api, ALICE) == [TRIAL]


def test_contact_tag_operations_report_unknown_contacts_and_tags(api: Api) -> None:
    assert_error(api("GET", "/contacts/nobody/tags"), 404, "not_found", "User Not Found")
    assert_error(api("POST", "/contacts/nobody/tags", json={"id": VIP}), 404, "not_found", "User Not Found")
    assert_error(api("DELETE", f"/contacts/nobody/tags/{VIP}"), 404, "not_found", "User Not Found")
    assert_error(
        api("POST", f"/contacts/{ALICE}/tags", json={"id": "999"}), 404, "not_found", "Resource Not Found"
    )
    assert_error(api("DELETE", f"/contacts/{ALICE}/tags/999"), 404, "not_found", "Resource Not Found")


@pytest.mark.parametrize("body", [None, b"[]", b"{oops", b'{"id": true}'])
def test_attach_with_a_malformed_body_is_a_400(api: Api, body: bytes | None) -> None:
    assert_error(api("POST", f"/contacts/{ALICE}/tags", data=body), 400, "parameter_invalid")


@pytest.mark.parametrize("body", [b'{"id": null}', b'{"name": "x"}'])
def test_attach_without_the_tag_id_is_parameter_not_found(api: Api, body: bytes) -> None:
    response = api("POST", f"/contacts/{ALICE}/tags", data=body)
    assert_error(response, 400, "parameter_not_found", "id is a required parameter.")


def test_attach_accepts_integer_tag_ids_like_the_spec_examples(api: Api) -> None:
    assert api("POST", f"/contacts/{ALICE}/tags", json={"id": int(VIP)}).json()["id"] == VIP


def test_show_contact_renders_the_contact_schema(api: Api) -> None:
    response = api("GET", f"/contacts/{BOB}")
    assert response.status_code == 200
    contact = response.json()
    assert (contact["type"], contact["id"], contact["email"], contact["role"]) == (
        "contact",
        BOB,
        "bob@example.com",
        "user",
    )
    assert contact["tags"] == {
        "type": "list",
        "data": [
            {"type": "tag", "id": TRIAL, "url": f"/tags/{TRIAL}"},
            {"type": "tag", "id": VIP, "url": f"/tags/{VIP}"},
        ],
        "url": f"/contacts/{BOB}/tags",
        "total_count": 2,
        "has_more": False,
    }
    # Fields 2.11 requires are present even without a value.
    for field in ("phone", "avatar", "last_seen_at", "browser", "os", "language_override"):
        assert field in contact
    assert contact["location"]["type"] == "location"
    assert_error(api("GET", "/contacts/nobody"), 404, "not_found", "User Not Found")


def test_owner_id_is_an_integer_up_to_2_15_and_a_string_from_2_16(sandbox: IntercomSandbox) -> None:
    assert Api(sandbox, "2.11")("GET", f"/contacts/{BOB}").json()["owner_id"] == 42
    assert Api(sandbox, "2.16")("GET", f"/contacts/{BOB}").json()["owner_id"] == "42"


def test_create_contact(api: Api) -> None:
    response = api("POST", "/contacts", json={"email": "dora@example.com", "name": "Dora"})
    assert response.status_code == 200
    created = response.json()
    assert (created["email"], created["role"], created["name"]) == ("dora@example.com", "user", "Dora")
    assert api("GET", f"/contacts/{created['id']}").json()["email"] == "dora@example.com"
    lead = api("POST", "/contacts", json={"role": "lead"})
    assert lead.status_code == 200
    assert lead.json()["role"] == "lead"


def test_create_contact_conflicts_with_an_existing_user(api: Api) -> None:
    duplicate = api("POST", "/contacts", json={"email": "ALICE@example.com"})
    assert_error(
        duplicate, 409, "conflict", f"A contact matching those details already exists with id={ALICE}"
    )
    assert_error(api("POST", "/contacts", json={"external_id": "u2", "role": "user"}), 409, "conflict")
    # Leads may share an email with a user.
    assert api("POST", "/contacts", json={"email": "alice@example.com", "role": "lead"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "nobody"},
        {"email": 5},
        {"role": "admin"},
        {"email": "x@example.com", "signed_up_at": "yesterday"},
        {"email": "x@example.com", "unsubscribed_from_emails": "no"},
        {"email": "x@example.com", "avatar": "not a url"},
        {"external_id": ["u9"]},
        "just a string",
    ],
)
def test_create_contact_rejects_invalid_bodies(api: Api, body: Any) -> None:
    assert_error(api("POST", "/contacts", json=body), 400, "parameter_invalid")


def test_list_contacts_pages_with_the_query_string(api: Api) -> None:
    first = api("GET", "/contacts", params={"per_page": 2}).json()
    assert first["total_count"] == 3
    assert len(first["data"]) == 2
    second = api(
        "GET", "/contacts", params={"per_page": 2, "starting_after": first["pages"]["next"]["starting_after"]}
    )
    assert [contact["id"] for contact in second.json()["data"]] == ["65a000000000000000000003"]
    assert "next" not in second.json()["pages"]


def test_update_contact_changes_the_given_fields_only(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.state.contacts[ALICE].custom_attributes = {"plan": "free", "seats": 3}
    body = {"name": "Alice A.", "phone": "+353871234567", "custom_attributes": {"plan": "pro"}}
    response = api("PUT", f"/contacts/{ALICE}", json=body)
    assert response.status_code == 200, response.text
    contact = response.json()
    assert (contact["id"], contact["name"], contact["phone"]) == (ALICE, "Alice A.", "+353871234567")
    assert (contact["email"], contact["external_id"], contact["role"]) == ("alice@example.com", "u1", "user")
    assert contact["custom_attributes"] == {"plan": "pro", "seats": 3}
    assert api("GET", f"/contacts/{ALICE}").json()["name"] == "Alice A."
    lead = api("PUT", f"/contacts/{CAROL}", json={"role": "user", "email": "carol@example.com"})
    assert (lead.json()["role"], lead.json()["email"]) == ("user", "carol@example.com")


@pytest.mark.parametrize("version", ["2.11", "2.16"])
def test_update_contact_ignores_tags(sandbox: IntercomSandbox, version: str) -> None:
    # update_contact_request has no tags field in any version: tags change only through the tag endpoints.
    api = Api(sandbox, version)
    response = api("PUT", f"/contacts/{BOB}", json={"name": "Bob", "tags": [{"id": TRIAL, "untag": True}]})
    assert response.status_code == 200
    assert response.json()["tags"]["total_count"] == 2
    assert list(sandbox.state.contacts[BOB].tags) == [TRIAL, VIP]
    assert sandbox.requests[-1]["body"] == {"name": "Bob", "tags": [{"id": TRIAL, "untag": True}]}


def test_update_contact_errors(api: Api) -> None:
    assert_error(api("PUT", "/contacts/nobody", json={"name": "x"}), 404, "not_found", "User Not Found")
    assert_error(api("PUT", f"/contacts/{ALICE}", json={"role": "admin"}), 400, "parameter_invalid")
    assert_error(api("PUT", f"/contacts/{ALICE}", json={"email": None}), 400, "parameter_invalid")
    assert_error(api("PUT", f"/contacts/{ALICE}", json=["name"]), 400, "parameter_invalid")
    taken = api("PUT", f"/contacts/{ALICE}", json={"email": "BOB@example.com"})
    assert_error(taken, 409, "conflict", f"A contact matching those details already exists with id={BOB}")
    assert_error(api("PUT", f"/contacts/{ALICE}", json={"external_id": "u2"}), 409, "conflict")
    # Its own email is no conflict, and a lead may share a user's email.
    assert api("PUT", f"/contacts/{ALICE}", json={"email": "alice@example.com"}).status_code == 200
    assert api("PUT", f"/contacts/{CAROL}", json={"email": "bob@example.com"}).status_code == 200


OLD_LEAD = "65a0000000000000000000aa"


@pytest.fixture
def merged(sandbox: IntercomSandbox) -> str:
    sandbox.state.add_contact(id=OLD_LEAD, role="lead", email="alice@example.com", merged_into=ALICE)
    return OLD_LEAD


@pytest.mark.parametrize("version", ["2.9", "2.11", "2.15"])
def test_merged_contact_is_a_404_up_to_2_15(sandbox: IntercomSandbox, merged: str, version: str) -> None:
    response = Api(sandbox, version)("GET", f"/contacts/{merged}")
    assert_error(response, 404, "not_found", "User Not Found")
    assert "Link" not in response.headers


@pytest.mark.parametrize("version", ["2.16", "Preview"])
def test_merged_contact_is_a_410_with_a_canonical_link_from_2_16(
    sandbox: IntercomSandbox, merged: str, version: str
) -> None:
    response = Api(sandbox, version)("GET", f"/contacts/{merged}")
    assert_error(
        response,
        410,
        "contact_merged",
        "This contact has been merged. See the 'Link' header for the canonical contact.",
    )
    assert response.headers["Link"] == f'</contacts/{ALICE}>; rel="canonical"'


def test_merge_chains_resolve_to_the_last_contact(sandbox: IntercomSandbox, merged: str) -> None:
    sandbox.state.merge_contact(ALICE, BOB)
    response = Api(sandbox, "2.16")("GET", f"/contacts/{merged}")
    assert response.headers["Link"] == f'</contacts/{BOB}>; rel="canonical"'


def test_merged_contacts_are_gone_from_lists_searches_and_tag_operations(api: Api, merged: str) -> None:
    assert search_ids(api, {"field": "email", "operator": "=", "value": "alice@example.com"}) == [ALICE]
    assert merged not in [contact["id"] for contact in api("GET", "/contacts").json()["data"]]
    assert api("GET", "/contacts").json()["total_count"] == 3
    assert_error(api("GET", f"/contacts/{merged}/tags"), 404, "not_found", "User Not Found")
    assert_error(api("POST", f"/contacts/{merged}/tags", json={"id": VIP}), 404, "not_found")
    assert_error(api("PUT", f"/contacts/{merged}", json={"name": "x"}), 404, "not_found")
    # The merged contact's email no longer blocks a new user.
    assert api("PUT", f"/contacts/{ALICE}", json={"email": "fresh@example.com"}).status_code == 200
    assert api("POST", "/contacts", json={"email": "alice@example.com"}).status_code == 200


def test_bulk_tagging_treats_a_merged_contact_as_unknown(sandbox: IntercomSandbox, merged: str) -> None:
    body = {"name": "VIP", "users": [{"id": ALICE}, {"id": merged}]}
    assert_error(Api(sandbox, "2.15")("POST", "/tags", json=body), 404, "not_found", "User Not Found")
    assert Api(sandbox, "2.16")("POST", "/tags", json=body).json()["users"] == [{"id": ALICE, "tagged": True}]
    assert VIP not in sandbox.state.contacts[merged].tags


def search_ids(api: Api, query: Any, **extra: Any) -> list[str]:
    response = api("POST", "/contacts/search", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    return [contact["id"] for contact in response.json()["data"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"field": "email", "operator": "=", "value": "Alice@Example.com"}, [ALICE]),
        (
            {"field": "email", "operator": "IN", "value": ["bob@example.com", "carol@example.org"]},
            [BOB, CAROL],
        ),
        ({"field": "external_id", "operator": "NIN", "value": ["u1"]}, [BOB, CAROL]),
        ({"field": "role", "operator": "!=", "value": "user"}, [CAROL]),
        ({"field": "id", "operator": "=", "value": BOB}, [BOB]),
        ({"field": "tag_id", "operator": "=", "value": VIP}, [BOB]),
        ({"field": "tag_id", "operator": "!=", "value": TRIAL}, [CAROL]),
        ({"field": "email", "operator": "$", "value": ".org"}, [CAROL]),
        (
            {
                "operator": "AND",
                "value": [
                    {"field": "role", "operator": "=", "value": "user"},
                    {"field": "tag_id", "operator": "=", "value": TRIAL},
                ],
            },
            [ALICE, BOB],
        ),
        (
            {
                "operator": "OR",
                "value": [
                    {"field": "tag_id", "operator": "=", "value": VIP},
                    {
                        "operator": "AND",
                        "value": [
                            {"field": "role", "operator": "=", "value": "lead"},
                            {"field": "email", "operator": "~", "value": "carol"},
                        ],
                    },
                ],
            },
            [BOB, CAROL],
        ),
    ],
)
def test_search_filters(api: Api, query: dict[str, Any], expected: list[str]) -> None:
    assert search_ids(api, query) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"field": "tag_id", "operator": "IN", "value": [TRIAL]},
        {"field": "email", "operator": "IN", "value": "alice@example.com"},
        {"field": "email", "operator": "LIKE", "value": "a"},
        {"field": "created_at", "operator": "!=", "value": 1},
        {"field": "no_such_field", "operator": "=", "value": "x"},
        {"operator": "XOR", "value": []},
        {"operator": "AND", "value": []},
        {"operator": "AND", "value": [{"operator": "OR", "value": [{"operator": "AND", "value": []}]}]},
        "email = alice",
    ],
)
def test_search_refuses_invalid_queries_with_400(api: Api, query: Any) -> None:
    response = api("POST", "/contacts/search", json={"query": query})
    assert response.status_code == 400
    assert response.json()["type"] == "error.list"


def test_search_without_query_or_with_bad_json_is_a_400(api: Api) -> None:
    assert api("POST", "/contacts/search", json={}).status_code == 400
    assert api("POST", "/contacts/search", data=b"\xff\xfe").status_code == 400


def test_search_paginates_with_the_cursor_in_the_body(sandbox: IntercomSandbox, api: Api) -> None:
    for number in range(7):
        sandbox.state.add_contact({"email": f"page{number}@example.net", "role": "lead"})
    query = {"field": "email", "operator": "$", "value": "@example.net"}
    seen: list[str] = []
    pages = []
    pagination: dict[str, Any] = {"per_page": 3}
    for _ in range(10):  # bounded: 3 pages expected
        body = api("POST", "/contacts/search", json={"query": query, "pagination": pagination}).json()
        assert body["total_count"] == 7
        seen += [contact["email"] for contact in body["data"]]
        pages.append(body["pages"])
        if "next" not in body["pages"]:
            break
        pagination = {"per_page": 3, "starting_after": body["pages"]["next"]["starting_after"]}
    assert seen == [f"page{number}@example.net" for number in range(7)]
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert {page["total_pages"] for page in pages} == {3}
    assert pages[0]["next"]["per_page"] == 3


def test_search_ignores_a_cursor_in_the_query_string(api: Api) -> None:
    query = {"field": "role", "operator": "=", "value": "user"}
    first = api("POST", "/contacts/search", json={"query": query, "pagination": {"per_page": 1}}).json()
    cursor = first["pages"]["next"]["starting_after"]
    again = api(
        "POST",
        "/contacts/search",
        params={"starting_after": cursor},
        json={"query": query, "pagination": {"per_page": 1}},
    )
    assert again.json()["data"][0]["id"] == first["data"][0]["id"]


def test_search_page_size_defaults_to_50_and_is_capped_at_150(sandbox: IntercomSandbox, api: Api) -> None:
    for number in range(160):
        sandbox.state.add_contact({"email": f"bulk{number}@example.net"})
    query = {"field": "email", "operator": "$", "value": "@example.net"}
    assert api("POST", "/contacts/search", json={"query": query}).json()["pages"]["per_page"] == 50
    capped = api("POST", "/contacts/search", json={"query": query, "pagination": {"per_page": 500}}).json()
    assert (capped["pages"]["per_page"], len(capped["data"])) == (150, 150)
    bad = api(
        "POST",
        "/contacts/search",
        json={"query": query, "pagination": {"per_page": 1, "starting_after": "zz"}},
    )
    assert_error(bad, 400, "parameter_invalid")


def test_search_sorts_when_asked_with_missing_values_last(sandbox: IntercomSandbox, api: Api) -> None:
    nameless = sandbox.state.add_contact(role="lead").id
    query = {"field": "role", "operator": "IN", "value": ["user", "lead"]}
    assert search_ids(api, query, sort={"field": "email", "order": "descending"}) == [
        CAROL,
        BOB,
        ALICE,
        nameless,
    ]
    assert search_ids(api, query, sort={"field": "email", "order": "ascending"}) == [
        ALICE,
        BOB,
        CAROL,
        nameless,
    ]
    bad = api("POST", "/contacts/search", json={"query": query, "sort": {"field": "email", "order": "desc"}})
    assert_error(
        bad, 400, "invalid_sort_order", "Invalid sort order 'desc'. Must be one of: ascending, descending"
    )
