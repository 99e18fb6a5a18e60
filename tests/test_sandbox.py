"""
Tests of the Intercom sandbox itself, driven with plain ``requests`` over loopback.

The provider's hook is deliberately not used: here the sandbox is the thing under test.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_intercom.sandbox import IntercomSandbox
from airflow_provider_intercom.sandbox.models import SandboxState, SeedError

TOKEN = "test-token"
TIMEOUT = 5
DEMO_SEED = Path(__file__).parents[1] / "airflow_provider_intercom" / "sandbox" / "demo_seed.json"
ALICE = "65a000000000000000000001"
BOB = "65a000000000000000000002"
TRIAL, VIP = "101", "102"
SEED: dict[str, Any] = {
    "admins": [{"id": "7", "name": "Ada Admin", "email": "ada@example.com"}],
    "tags": [{"id": TRIAL, "name": "trial"}, {"id": VIP, "name": "VIP"}],
    "contacts": [
        {"id": ALICE, "email": "alice@example.com", "external_id": "u1", "role": "user", "tags": [TRIAL]},
        {"id": BOB, "email": "bob@example.com", "external_id": "u2", "owner_id": "42", "tags": [TRIAL, VIP]},
        {"id": "65a000000000000000000003", "email": "carol@example.org", "role": "lead"},
    ],
    "companies": [{"id": "c1", "company_id": "acme", "name": "Acme"}, {"id": "c2", "company_id": "globex"}],
}


class Api:
    """A small authenticated client for the sandbox."""

    def __init__(self, sandbox: IntercomSandbox, version: str | None = None) -> None:
        self.base_url = sandbox.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sandbox.token}"
        if version is not None:
            self.session.headers["Intercom-Version"] = version

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=TIMEOUT, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[IntercomSandbox]:
    with IntercomSandbox(token=TOKEN, seed=SEED) as running:
        yield running


@pytest.fixture
def api(sandbox: IntercomSandbox) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.session.close()


def assert_error(response: requests.Response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["type"] == "error.list"
    uuid.UUID(body["request_id"])
    assert body["errors"][0]["code"] == code
    if message is not None:
        assert body["errors"][0]["message"] == message


def tag_ids_of(api: Api, contact_id: str) -> list[str]:
    response = api("GET", f"/contacts/{contact_id}/tags")
    assert response.status_code == 200
    return [tag["id"] for tag in response.json()["data"]]


# -- authentication, routing, versions ---------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_requests_without_a_valid_token_get_401_without_rate_limit_headers(
    sandbox: IntercomSandbox, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.get(f"{sandbox.url}/tags", headers=headers, timeout=TIMEOUT)
    assert_error(response, 401, "unauthorized", "Access Token Invalid")
    assert not any(name.lower().startswith("x-ratelimit") for name in response.headers)


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("PUT", "/tags"), ("GET", "/tags/1/x")])
def test_unknown_paths_and_methods_get_404(api: Api, method: str, path: str) -> None:
    assert_error(api(method, path), 404, "not_found", "Resource Not Found")


def test_unknown_intercom_version_is_refused(api: Api) -> None:
    response = api("GET", "/tags", headers={"Intercom-Version": "9.99"})
    assert_error(response, 400, "intercom_version_invalid")


def test_me_returns_the_first_seeded_admin_with_its_app(api: Api) -> None:
    response = api("GET", "/me")
    assert response.status_code == 200
    admin = response.json()
    assert (admin["type"], admin["id"], admin["email"]) == ("admin", "7", "ada@example.com")
    assert admin["app"]["type"] == "app"
    assert isinstance(admin["team_ids"], list)


def test_me_has_a_default_admin_without_seed() -> None:
    with IntercomSandbox(token=TOKEN) as bare:
        response = Api(bare)("GET", "/me")
    assert response.status_code == 200
    assert response.json()["type"] == "admin"


# -- tags ----------------------------------------------------------------------------------------------------


def test_list_and_find_tags(api: Api) -> None:
    listed = api("GET", "/tags")
    assert listed.status_code == 200
    assert listed.headers["Content-Type"] == "application/json"
    body = listed.json()
    assert body["type"] == "list"
    # 2.11 requires applied_at and applied_by on every `tag`; outside a tagging operation they are null.
    assert {"type": "tag", "id": TRIAL, "name": "trial", "applied_at": None, "applied_by": None} in body[
        "data"
    ]
    found = api("GET", f"/tags/{VIP}")
    assert found.json() == {"type": "tag", "id": VIP, "name": "VIP"}
    assert_error(api("GET", "/tags/999999"), 404, "not_found", "Resource Not Found")


def test_create_tag_finds_existing_names_case_insensitively(api: Api) -> None:
    existing = api("POST", "/tags", json={"name": "vip"})
    assert existing.status_code == 200
    assert existing.json() == {"type": "tag", "id": VIP, "name": "VIP"}
    created = api("POST", "/tags", json={"name": "churn-risk"})
    assert created.status_code == 200
    new_id = created.json()["id"]
    assert new_id not in (TRIAL, VIP)
    assert api("POST", "/tags", json={"name": "CHURN-RISK"}).json()["id"] == new_id
    assert len(api("GET", "/tags").json()["data"]) == 3


def test_create_tag_with_id_renames(api: Api) -> None:
    renamed = api("POST", "/tags", json={"name": "Trial users", "id": TRIAL})
    assert renamed.json() == {"type": "tag", "id": TRIAL, "name": "Trial users"}
    assert api("GET", f"/tags/{TRIAL}").json()["name"] == "Trial users"
    assert_error(api("POST", "/tags", json={"name": "x", "id": "424242"}), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"test": "invalid"},
        {"name": ""},
        {"name": 5},
        ["name"],
        {"name": "x", "users": "not-a-list"},
        {"name": "x", "users": [{"id": {"nested": 1}}]},
        {"name": "x", "companies": [{}]},
        {"name": "x", "users": [], "companies": []},
    ],
)
def test_create_tag_rejects_invalid_parameters(api: Api, body: Any) -> None:
    assert_error(api("POST", "/tags", json=body), 400, "parameter_invalid", "invalid tag parameters")


def test_create_tag_rejects_a_body_that_is_not_json(api: Api) -> None:
    response = api("POST", "/tags", data=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "parameter_invalid")


def test_delete_tag_answers_200_without_content_and_untags_everyone(api: Api) -> None:
    response = api("DELETE", f"/tags/{TRIAL}")
    assert response.status_code == 200
    assert response.content == b""
    assert tag_ids_of(api, BOB) == [VIP]
    assert_error(api("DELETE", f"/tags/{TRIAL}"), 404, "not_found", "Resource Not Found")


def test_tag_users_up_to_2_15_fails_the_whole_batch_on_an_unknown_id(sandbox: IntercomSandbox) -> None:
    api = Api(sandbox, version="2.15")
    body = {"name": "churn-risk", "users": [{"id": ALICE}, {"id": "no-such-contact"}]}
    assert_error(api("POST", "/tags", json=body), 404, "not_found", "User Not Found")
    assert tag_ids_of(api, ALICE) == [TRIAL]
    assert sandbox.state.find_tag_by_name("churn-risk") is None

    tagged = api("POST", "/tags", json={"name": "churn-risk", "users": [{"id": ALICE}, {"id": BOB}]})
    assert tagged.status_code == 200
    assert set(tagged.json()) == {"type", "id", "name"}
    assert tagged.json()["id"] in tag_ids_of(api, ALICE)
    assert tagged.json()["id"] in tag_ids_of(api, BOB)


def test_tag_users_from_2_16_skips_unknown_ids_and_reports_what_it_did(sandbox: IntercomSandbox) -> None:
    api = Api(sandbox, version="2.16")
    body = {"name": "churn-risk", "users": [{"id": ALICE}, {"id": "no-such-contact"}]}
    response = api("POST", "/tags", json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["users"] == [{"id": ALICE, "tagged": True}]
    assert result["companies"] == []
    assert result["id"] in tag_ids_of(api, ALICE)


def test_tag_and_untag_companies(sandbox: IntercomSandbox) -> None:
    api = Api(sandbox, version="2.11")
    unknown = {"name": "enterprise", "companies": [{"company_id": "acme"}, {"company_id": "nope"}]}
    assert_error(api("POST", "/tags", json=unknown), 404, "company_not_found", "Company Not Found")
    assert not sandbox.state.companies["c1"].tags

    tagged = api(
        "POST", "/tags", json={"name": "enterprise", "companies": [{"company_id": "acme"}, {"id": "c2"}]}
    )
    tag_id = tagged.json()["id"]
    assert tag_id in sandbox.state.companies["c1"].tags
    assert tag_id in sandbox.state.companies["c2"].tags

    untag = {"name": "Enterprise", "companies": [{"id": "c1", "company_id": "acme", "untag": True}]}
    response = Api(sandbox, version="2.16")("POST", "/tags", json=untag)
    assert response.json()["companies"] == [{"id": "c1", "tagged": False}]
    assert tag_id not in sandbox.state.companies["c1"].tags
    assert tag_id in sandbox.state.companies["c2"].tags


# -- contact tags --------------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("body", [None, b"[]", b"{oops", b'{"id": true}', b'{"id": null}', b'{"name": "x"}'])
def test_attach_with_a_malformed_body_is_a_400(api: Api, body: bytes | None) -> None:
    assert_error(api("POST", f"/contacts/{ALICE}/tags", data=body), 400, "parameter_invalid")


def test_attach_accepts_integer_tag_ids_like_the_spec_examples(api: Api) -> None:
    assert api("POST", f"/contacts/{ALICE}/tags", json={"id": int(VIP)}).json()["id"] == VIP


# -- contacts ------------------------------------------------------------------------------------------------


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


# -- search --------------------------------------------------------------------------------------------------


def search_ids(api: Api, query: Any, **extra: Any) -> list[str]:
    response = api("POST", "/contacts/search", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    return [contact["id"] for contact in response.json()["data"]]


CAROL = "65a000000000000000000003"


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


# -- rate limiting -------------------------------------------------------------------------------------------


def sleep_until_window_start(window_seconds: int) -> None:
    # Start just after a window boundary so a short burst stays inside one window.
    now = time.time()
    time.sleep(math.ceil(now / window_seconds) * window_seconds - now + 0.02)


def test_rate_limit_headers_and_429_with_an_exact_aligned_reset() -> None:
    with IntercomSandbox(token=TOKEN, rate_limit=3, window_seconds=1) as limited:
        api = Api(limited)
        sleep_until_window_start(1)
        started = time.time()
        responses = [api("GET", "/tags") for _ in range(4)]
        assert time.time() - started < 0.9, "the burst must fit in one window for this test"
        assert [response.status_code for response in responses] == [200, 200, 200, 429]
        assert [response.headers["X-RateLimit-Remaining"] for response in responses] == ["2", "1", "0", "0"]
        assert {response.headers["X-RateLimit-Limit"] for response in responses} == {"3"}
        resets = {int(response.headers["X-RateLimit-Reset"]) for response in responses}
        assert resets == {math.floor(started) + 1}
        assert_error(responses[3], 429, "rate_limit_exceeded", "Exceeded rate limit of 3 in 1_seconds")

        time.sleep(max(0.0, resets.pop() - time.time()) + 0.02)
        after_reset = api("GET", "/tags")
        assert after_reset.status_code == 200
        assert after_reset.headers["X-RateLimit-Remaining"] == "2"


def test_default_rate_limit_window_is_ten_seconds_aligned_to_the_epoch(api: Api) -> None:
    before = time.time()
    response = api("GET", "/tags")
    reset = int(response.headers["X-RateLimit-Reset"])
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert reset % 10 == 0
    assert before < reset <= before + 10


# -- faults --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("500", 500, "server_error"),
        ("502", 502, "server_error"),
        ("503", 503, "service_unavailable"),
        ("408", 408, "request_timeout"),
        ("429", 429, "rate_limit_exceeded"),
    ],
)
def test_injected_status_faults_replace_one_answer_and_skip_its_effect(
    sandbox: IntercomSandbox, api: Api, fault: str, status: int, code: str
) -> None:
    sandbox.inject(fault)
    faulted = api("POST", "/tags", json={"name": "never-created"})
    assert_error(faulted, status, code)
    assert sandbox.state.find_tag_by_name("never-created") is None
    assert api("POST", "/tags", json={"name": "created"}).status_code == 200


def test_injected_429_carries_a_reset_about_a_second_ahead(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("429")
    before = time.time()
    response = api("GET", "/tags")
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert before < int(response.headers["X-RateLimit-Reset"]) <= math.ceil(before + 1) + 1


def test_injected_drop_closes_the_connection_without_an_answer(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("drop")
    with pytest.raises(requests.ConnectionError):
        api("POST", "/tags", json={"name": "dropped"})
    assert sandbox.state.find_tag_by_name("dropped") is None
    assert api("GET", "/tags").status_code == 200
    assert sandbox.requests[-2]["status"] is None


def test_injected_empty_and_html_200s(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("empty200", "html200")
    empty = api("GET", "/tags")
    assert (empty.status_code, empty.content) == (200, b"")
    html = api("GET", "/tags")
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        html.json()
    assert api("GET", "/tags").json()["type"] == "list"


def test_injected_delay_answers_normally_after_the_delay(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject(("delay", 300))
    started = time.monotonic()
    response = api("POST", "/tags", json={"name": "slow"})
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert sandbox.state.find_tag_by_name("slow") is not None


def test_injected_faults_apply_in_order_and_can_be_limited_to_a_path(
    sandbox: IntercomSandbox, api: Api
) -> None:
    sandbox.inject("503", path="/contacts")
    sandbox.inject("500", "502")
    assert api("GET", "/tags").status_code == 500
    assert api("GET", "/tags").status_code == 502
    assert api("GET", "/tags").status_code == 200
    assert api("GET", f"/contacts/{ALICE}").status_code == 503
    assert api("GET", f"/contacts/{ALICE}").status_code == 200
    assert sandbox.faults.pending == 0


def test_inject_refuses_unknown_faults(sandbox: IntercomSandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.inject("418")
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.inject(("pause", 5))


def random_fault_statuses(fault_seed: int, count: int) -> list[int | str]:
    outcomes: list[int | str] = []
    with IntercomSandbox(token=TOKEN, fault_rate=0.5, fault_seed=fault_seed) as faulty:
        api = Api(faulty)
        for _ in range(count):
            try:
                outcomes.append(api("GET", "/tags").status_code)
            except requests.ConnectionError:
                outcomes.append("drop")
    return outcomes


def test_random_faults_repeat_with_the_same_seed() -> None:
    first = random_fault_statuses(fault_seed=7, count=40)
    assert first == random_fault_statuses(fault_seed=7, count=40)
    assert first != random_fault_statuses(fault_seed=8, count=40)
    assert set(first) <= {200, 429, 500, 503, "drop"}
    assert 200 in first
    assert len(set(first) - {200}) >= 3, "the mix should hold several kinds of fault"


def test_latency_delays_every_response() -> None:
    with IntercomSandbox(token=TOKEN, latency_ms=150) as slow:
        api = Api(slow)
        for path in ("/tags", "/nowhere"):
            started = time.monotonic()
            api("GET", path)
            assert time.monotonic() - started >= 0.15


# -- server behaviour ----------------------------------------------------------------------------------------


def test_keep_alive_without_nagle_delay(api: Api) -> None:
    # With Nagle's algorithm on, each exchange waits ~40 ms for a delayed ACK: 40 requests would take 1.6 s+.
    api("GET", "/tags")
    started = time.monotonic()
    for _ in range(40):
        assert api("GET", "/tags").status_code == 200
    assert time.monotonic() - started < 1.2


def test_malformed_content_length_is_a_400_not_a_crash(sandbox: IntercomSandbox) -> None:
    request = (
        f"POST /tags HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Length: abc\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=TIMEOUT) as connection:
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")


def test_concurrent_requests_are_applied_atomically(sandbox: IntercomSandbox) -> None:
    def create_tags(worker: int) -> None:
        client = Api(sandbox)
        for number in range(15):
            assert client("POST", "/tags", json={"name": f"shared-{number}"}).status_code == 200
            assert client("POST", "/tags", json={"name": f"worker{worker}-{number}"}).status_code == 200

    threads = [threading.Thread(target=create_tags, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    names = [tag.name for tag in sandbox.state.tags.values()]
    assert len(names) == len(set(names)) == 2 + 15 + 6 * 15


def test_request_log_records_each_answer_before_it_is_sent(sandbox: IntercomSandbox, api: Api) -> None:
    started = time.time()
    api("POST", "/tags", json={"name": "logged"}, headers={"Intercom-Version": "2.16"})
    api("GET", "/tags/999")
    requests.get(f"{sandbox.url}/tags", timeout=TIMEOUT)
    log = sandbox.requests
    assert [
        {key: entry[key] for key in ("method", "path", "status", "version", "body")} for entry in log
    ] == [
        {"method": "POST", "path": "/tags", "status": 200, "version": "2.16", "body": {"name": "logged"}},
        {"method": "GET", "path": "/tags/999", "status": 404, "version": "2.11", "body": None},
        {"method": "GET", "path": "/tags", "status": 401, "version": "2.11", "body": None},
    ]
    assert started <= log[0]["time"] <= log[1]["time"] <= log[2]["time"] <= time.time()
    assert log[0]["reset_at"] % 10 == 0
    assert log[2]["reset_at"] is None  # no rate-limit headers on a 401


def test_every_request_is_logged_by_the_time_its_answer_arrives(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("500", "drop")
    for number in range(30):
        # The injected drop raises; the log must still hold the request.
        with contextlib.suppress(requests.ConnectionError):
            api("GET", "/tags")
        assert len(sandbox.requests) == number + 1


def test_stop_closes_the_port() -> None:
    sandbox = IntercomSandbox(token=TOKEN).start()
    url = sandbox.url
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/tags", timeout=TIMEOUT)


# -- seeds ---------------------------------------------------------------------------------------------------


def test_demo_seed_loads_with_string_ids() -> None:
    state = SandboxState(DEMO_SEED)
    assert {tag.name for tag in state.tags.values()} >= {"trial", "vip"}
    assert state.find_tag_by_name("churn-risk") is None
    assert {contact.role for contact in state.contacts.values()} == {"user", "lead"}
    assert "alice@example.com" in {contact.email for contact in state.contacts.values()}
    assert len(state.companies) == 3
    every_id = [*state.tags, *state.contacts, *state.companies, *state.admins]
    assert all(isinstance(object_id, str) for object_id in every_id)


def test_seed_generates_missing_ids_and_stringifies_given_ones() -> None:
    state = SandboxState(
        {"tags": [{"id": 5, "name": "five"}, {"name": "generated"}], "contacts": [{"tags": [5]}]}
    )
    assert set(state.tags) == {"5", state.find_tag_by_name("generated").id}  # type: ignore[union-attr]
    (contact,) = state.contacts.values()
    assert isinstance(contact.id, str)
    assert contact.tags.keys() == {"5"}


@pytest.mark.parametrize(
    "seed",
    [
        {"contacts": [{"tags": ["404"]}]},
        {"tags": [{"id": "1"}]},
        {"contacts": {"id": "1"}},
        ["not", "a", "mapping"],
    ],
)
def test_invalid_seeds_are_refused(seed: Any) -> None:
    with pytest.raises(SeedError):
        SandboxState(seed)


# -- CLI and pytest plugin -----------------------------------------------------------------------------------


def test_cli_prints_the_ready_line_and_serves() -> None:
    command = [
        sys.executable,
        "-m",
        "airflow_provider_intercom.sandbox",
        "--port",
        "0",
        "--token",
        "cli-token",
    ]
    process = subprocess.Popen(
        [*command, "--seed", str(DEMO_SEED)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=20)
        assert lines, "the sandbox did not print its ready line in time"
        match = re.fullmatch(r"Intercom sandbox listening on (http://127\.0\.0\.1:\d+)\n", lines[0])
        assert match, lines[0]
        response = requests.get(
            f"{match.group(1)}/me", headers={"Authorization": "Bearer cli-token"}, timeout=TIMEOUT
        )
        assert response.status_code == 200
        assert response.json()["email"] == "dana@example.com"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


def test_cli_runs_a_command_against_the_demo_seed_and_returns_its_status() -> None:
    # The child reads the connection it was given and lists the demo tags through it.
    child = (
        "import json, os, sys, urllib.request;"
        "conn = json.loads(os.environ['AIRFLOW_CONN_INTERCOM_DEFAULT']);"
        "request = urllib.request.Request(conn['host'] + '/tags',"
        " headers={'Authorization': 'Bearer ' + conn['password']});"
        "tags = json.load(urllib.request.urlopen(request, timeout=10))['data'];"
        "names = sorted(tag['name'] for tag in tags);"
        "print(','.join(names)); sys.exit(7)"
    )
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_intercom.sandbox", "--port", "0", "--seed", "demo"]
        + ["--", sys.executable, "-c", child],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 7, result.stderr
    ready, names = result.stdout.splitlines()
    assert ready.startswith("Intercom sandbox listening on http://127.0.0.1:")
    assert names == "beta-tester,trial,vip"


def test_cli_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_intercom.sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert "--fault-rate" in result.stdout


def test_plugin_and_sandbox_import_nothing_heavy_nor_the_provider() -> None:
    code = (
        "import json, sys;"
        "import airflow_provider_intercom.sandbox.pytest_plugin, airflow_provider_intercom.sandbox.__main__;"
        "print(json.dumps(sorted(name for name in sys.modules if name.startswith(('airflow', 'requests')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    loaded = [
        name for name in json.loads(result.stdout) if not name.startswith("airflow_provider_intercom.sandbox")
    ]
    assert loaded == ["airflow_provider_intercom"]


def test_fixture_points_the_default_connection_at_the_sandbox(intercom_sandbox: IntercomSandbox) -> None:
    connection = json.loads(os.environ["AIRFLOW_CONN_INTERCOM_DEFAULT"])
    assert connection["conn_type"] == "intercom"
    assert connection["host"] == intercom_sandbox.url
    assert connection["password"] == intercom_sandbox.token
    assert connection["extra"] == {"region": "us", "api_version": "2.11"}
    response = requests.get(
        f"{connection['host']}/tags",
        headers={"Authorization": f"Bearer {connection['password']}"},
        timeout=TIMEOUT,
    )
    assert response.json() == {"type": "list", "data": []}
