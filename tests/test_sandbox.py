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
import struct
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
CAROL = "65a000000000000000000003"
TRIAL, VIP = "101", "102"
SEED: dict[str, Any] = {
    "admins": [{"id": "7", "name": "Ada Admin", "email": "ada@example.com"}],
    "tags": [{"id": TRIAL, "name": "trial"}, {"id": VIP, "name": "VIP"}],
    "contacts": [
        {"id": ALICE, "email": "alice@example.com", "external_id": "u1", "role": "user", "tags": [TRIAL]},
        {"id": BOB, "email": "bob@example.com", "external_id": "u2", "owner_id": "42", "tags": [TRIAL, VIP]},
        {"id": CAROL, "email": "carol@example.org", "role": "lead"},
    ],
    "companies": [{"id": "c1", "company_id": "acme", "name": "Acme"}, {"id": "c2", "company_id": "globex"}],
    "conversations": [{"id": "1001"}],
    "tickets": [{"id": "2001"}],
}
ADMIN = "7"


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


def test_delete_tag_used_by_a_segment_is_refused_with_the_segment_names(
    sandbox: IntercomSandbox, api: Api
) -> None:
    sandbox.state.add_segment(name="Seg 1", tag_ids=[VIP])
    sandbox.state.add_segment(id="s2", name="Big spenders", tag_ids=[TRIAL, VIP])
    response = api("DELETE", f"/tags/{VIP}")
    assert_error(
        response,
        400,
        "tag_has_dependent_objects",
        "Unable to delete Tag with dependent objects. Segments: Seg 1, Big spenders.",
    )
    assert VIP in sandbox.state.tags
    assert VIP in sandbox.state.contacts[BOB].tags
    del sandbox.state.segments["s2"]
    assert api("DELETE", f"/tags/{TRIAL}").status_code == 200
    assert api("DELETE", f"/tags/{VIP}").status_code == 400


def test_tag_companies_up_to_2_15_is_all_or_nothing(sandbox: IntercomSandbox) -> None:
    api = Api(sandbox, version="2.11")
    sandbox.state.add_tag("enterprise", "300")
    sandbox.state.companies["c2"].tags["300"] = 1
    for items in (
        [{"company_id": "acme"}, {"company_id": "nope"}],
        [
            {"id": "c2", "company_id": "globex", "untag": True},
            {"id": "nope", "company_id": "nope", "untag": True},
        ],
    ):
        response = api("POST", "/tags", json={"name": "enterprise", "companies": items})
        assert_error(response, 404, "company_not_found", "Company Not Found")
    assert "300" not in sandbox.state.companies["c1"].tags
    assert "300" in sandbox.state.companies["c2"].tags

    untag = {"name": "enterprise", "companies": [{"id": "c2", "company_id": "globex", "untag": True}]}
    response = api("POST", "/tags", json=untag)
    assert response.json() == {"type": "tag", "id": "300", "name": "enterprise"}
    assert "300" not in sandbox.state.companies["c2"].tags


def test_tag_companies_from_2_16_reports_each_company_and_skips_unknown_ones(
    sandbox: IntercomSandbox,
) -> None:
    api = Api(sandbox, version="2.16")
    body = {"name": "enterprise", "companies": [{"company_id": "acme"}, {"company_id": "nope"}, {"id": "c2"}]}
    tagged = api("POST", "/tags", json=body)
    assert tagged.status_code == 200
    tag_id = tagged.json()["id"]
    assert tagged.json() == {
        "type": "tag",
        "id": tag_id,
        "name": "enterprise",
        # Companies are reported by Intercom id; the unknown one is absent, not "tagged": false.
        "companies": [{"id": "c1", "tagged": True}, {"id": "c2", "tagged": True}],
        "users": [],
    }
    untag = {
        "name": "enterprise",
        "companies": [
            {"id": "c1", "company_id": "acme", "untag": True},
            {"id": "nope", "company_id": "nope", "untag": True},
        ],
    }
    untagged = api("POST", "/tags", json=untag)
    assert untagged.json()["companies"] == [{"id": "c1", "tagged": False}]
    assert tag_id not in sandbox.state.companies["c1"].tags
    assert tag_id in sandbox.state.companies["c2"].tags


def test_tag_users_reports_are_per_version(sandbox: IntercomSandbox) -> None:
    body = {"name": "VIP", "users": [{"id": ALICE}, {"id": CAROL}]}
    assert Api(sandbox, version="2.15")("POST", "/tags", json=body).json() == {
        "type": "tag",
        "id": VIP,
        "name": "VIP",
    }
    assert Api(sandbox, version="Preview")("POST", "/tags", json=body).json()["users"] == [
        {"id": ALICE, "tagged": True},
        {"id": CAROL, "tagged": True},
    ]
    assert VIP in sandbox.state.contacts[CAROL].tags


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


# -- merged contacts -----------------------------------------------------------------------------------------


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


def test_seeded_merges_may_point_forward_and_must_name_existing_contacts() -> None:
    state = SandboxState({"contacts": [{"id": "old", "merged_into": "new"}, {"id": "new"}]})
    assert state.contacts["old"].merged_into == "new"
    assert [contact.id for contact in state.live_contacts()] == ["new"]
    with pytest.raises(SeedError, match="no contact"):
        SandboxState({"contacts": [{"id": "old", "merged_into": "missing"}]})
    with pytest.raises(SeedError, match="itself"):
        state.merge_contact("new", "old")
    with pytest.raises(SeedError, match="no contact"):
        state.add_contact(id="orphan", merged_into="missing")
    assert "orphan" not in state.contacts


# -- conversations and tickets -------------------------------------------------------------------------------


TAGGABLES = [("conversations", "1001"), ("tickets", "2001")]


@pytest.mark.parametrize(("kind", "object_id"), TAGGABLES)
def test_attach_and_detach_a_conversation_or_ticket_tag(
    sandbox: IntercomSandbox, api: Api, kind: str, object_id: str
) -> None:
    sandbox.state.add_admin({"id": "8", "name": "Ben"})
    before = time.time()
    attached = api("POST", f"/{kind}/{object_id}/tags", json={"id": VIP, "admin_id": "8"})
    assert attached.status_code == 200, attached.text
    tag = attached.json()
    assert (tag["type"], tag["id"], tag["name"]) == ("tag", VIP, "VIP")
    assert tag["applied_by"] == {"type": "admin", "id": "8"}
    assert math.floor(before) <= tag["applied_at"] <= time.time()
    stored = getattr(sandbox.state, kind)[object_id]
    assert stored.tags == {VIP: tag["applied_at"]}
    assert stored.applied_by == {VIP: "8"}
    # Tagging again (by anyone) keeps the first application.
    again = api("POST", f"/{kind}/{object_id}/tags", json={"id": int(VIP), "admin_id": int(ADMIN)})
    assert again.json() == tag

    detached = api("DELETE", f"/{kind}/{object_id}/tags/{VIP}", json={"admin_id": ADMIN})
    assert detached.status_code == 200
    assert detached.json() == tag
    assert stored.tags == {}
    assert sandbox.requests[-1]["body"] == {"admin_id": ADMIN}
    # Removing a tag the object does not carry is harmless.
    assert api("DELETE", f"/{kind}/{object_id}/tags/{VIP}", json={"admin_id": ADMIN}).status_code == 200


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("conversations", "not_found", "Conversation not found"),
        ("tickets", "ticket_not_found", "Ticket not found"),
    ],
)
def test_conversation_and_ticket_tag_errors(api: Api, kind: str, code: str, message: str) -> None:
    object_id = dict(TAGGABLES)[kind]
    attach = {"id": VIP, "admin_id": ADMIN}
    assert_error(api("POST", f"/{kind}/404/tags", json=attach), 404, code, message)
    assert_error(api("DELETE", f"/{kind}/404/tags/{VIP}", json={"admin_id": ADMIN}), 404, code, message)
    missing_tag = api("POST", f"/{kind}/{object_id}/tags", json={"id": "999", "admin_id": ADMIN})
    assert_error(missing_tag, 404, "tag_not_found", "Tag not found")
    missing_tag = api("DELETE", f"/{kind}/{object_id}/tags/999", json={"admin_id": ADMIN})
    assert_error(missing_tag, 404, "tag_not_found", "Tag not found")
    unknown_admin = api("POST", f"/{kind}/{object_id}/tags", json={"id": VIP, "admin_id": "999"})
    assert_error(unknown_admin, 404, "admin_not_found", "Admin not found")
    unknown_admin = api("DELETE", f"/{kind}/{object_id}/tags/{VIP}", json={"admin_id": "999"})
    assert_error(unknown_admin, 404, "admin_not_found", "Admin not found")


@pytest.mark.parametrize(("kind", "object_id"), TAGGABLES)
@pytest.mark.parametrize(
    ("method", "suffix", "body", "code"),
    [
        ("POST", "", {"id": VIP}, "parameter_not_found"),
        ("POST", "", {"admin_id": ADMIN}, "parameter_not_found"),
        ("POST", "", None, "parameter_not_found"),
        ("POST", "", {"id": VIP, "admin_id": True}, "parameter_invalid"),
        ("POST", "", ["id"], "parameter_invalid"),
        ("DELETE", f"/{VIP}", None, "parameter_not_found"),
        ("DELETE", f"/{VIP}", {}, "parameter_not_found"),
        ("DELETE", f"/{VIP}", {"admin_id": {"id": ADMIN}}, "parameter_invalid"),
    ],
)
def test_conversation_and_ticket_tags_need_their_ids_in_the_body(
    sandbox: IntercomSandbox,
    api: Api,
    kind: str,
    object_id: str,
    method: str,
    suffix: str,
    body: Any,
    code: str,
) -> None:
    sandbox.state.conversations["1001"].tags[VIP] = 1
    sandbox.state.tickets["2001"].tags[VIP] = 1
    assert_error(api(method, f"/{kind}/{object_id}/tags{suffix}", json=body), 400, code)
    assert VIP in getattr(sandbox.state, kind)[object_id].tags


@pytest.mark.parametrize("version", ["1.4", "2.0", "2.9"])
def test_ticket_tags_do_not_exist_before_2_10(sandbox: IntercomSandbox, version: str) -> None:
    api = Api(sandbox, version)
    unknown_path = api("GET", "/nowhere").json()
    for method, path, body in [
        ("POST", "/tickets/2001/tags", {"id": VIP, "admin_id": ADMIN}),
        ("DELETE", f"/tickets/2001/tags/{TRIAL}", {"admin_id": ADMIN}),
    ]:
        response = api(method, path, json=body)
        assert_error(response, 404, "not_found", "Resource Not Found")
        assert {key: value for key, value in response.json().items() if key != "request_id"} == {
            key: value for key, value in unknown_path.items() if key != "request_id"
        }
    assert sandbox.state.tickets["2001"].tags == {}
    # Conversations have had tags all along.
    attached = api("POST", "/conversations/1001/tags", json={"id": VIP, "admin_id": ADMIN})
    assert attached.status_code == 200


@pytest.mark.parametrize("version", ["2.10", "2.16", "Preview"])
def test_ticket_tags_exist_from_2_10(sandbox: IntercomSandbox, version: str) -> None:
    response = Api(sandbox, version)("POST", "/tickets/2001/tags", json={"id": VIP, "admin_id": ADMIN})
    assert response.status_code == 200
    assert VIP in sandbox.state.tickets["2001"].tags


def test_conversations_and_tickets_can_be_added_with_tags(sandbox: IntercomSandbox, api: Api) -> None:
    conversation = sandbox.state.add_conversation(id="77", tags=[TRIAL])
    ticket = sandbox.state.add_ticket()
    assert conversation.tags.keys() == {TRIAL}
    assert sandbox.state.tickets[ticket.id] is ticket
    detached = api("DELETE", f"/conversations/77/tags/{TRIAL}", json={"admin_id": ADMIN})
    # Seeded tags have no recorded admin: the detaching admin is reported.
    assert detached.json()["applied_by"] == {"type": "admin", "id": ADMIN}
    assert conversation.tags == {}


# -- companies -----------------------------------------------------------------------------------------------


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
        ({"name": "no id"}, None),
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
    assert [page["pages"] for page in pages] == [
        {"type": "pages", "page": number, "per_page": 2, "total_pages": 3} for number in (1, 2, 3)
    ]
    assert pages[0]["data"][0]["tags"] == {
        "type": "tag.list",
        "tags": [{"type": "tag", "id": VIP, "name": "VIP"}],
    }
    default = api("GET", "/companies", params={"tag_id": VIP}).json()
    assert (len(default["data"]), default["pages"]["per_page"]) == (5, 15)
    assert api("GET", "/companies", params={"tag_id": "999"}).json()["data"] == []
    assert api("GET", "/companies").json()["total_count"] == 7
    assert_error(api("GET", "/companies", params={"page": "first"}), 400, "parameter_invalid")


# -- search --------------------------------------------------------------------------------------------------


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


def random_fault_outcomes(count: int, **settings: Any) -> list[int | str]:
    """Send ``count`` GETs to a fresh faulty sandbox; each outcome is a status or ``"drop"``."""
    outcomes: list[int | str] = []
    with IntercomSandbox(token=TOKEN, **settings) as faulty:
        api = Api(faulty)
        for _ in range(count):
            try:
                outcomes.append(api("GET", "/tags").status_code)
            except requests.ConnectionError:
                outcomes.append("drop")
    return outcomes


def random_fault_statuses(fault_seed: int, count: int) -> list[int | str]:
    return random_fault_outcomes(count, fault_rate=0.5, fault_seed=fault_seed, late_ms=20)


def fault_decisions(sandbox: IntercomSandbox) -> list[str | None]:
    return [entry["fault"] for entry in sandbox.requests]


def test_random_faults_repeat_with_the_same_seed() -> None:
    first = random_fault_statuses(fault_seed=7, count=40)
    assert first == random_fault_statuses(fault_seed=7, count=40)
    assert first != random_fault_statuses(fault_seed=8, count=40)
    # late answers 200 after applying; late_drop applies and drops.
    assert set(first) <= {200, 429, 500, 502, 503, "drop"}
    assert 200 in first
    assert len(set(first) - {200}) >= 3, "the mix should hold several kinds of fault"


def test_random_fault_decisions_repeat_with_the_same_seed_and_use_the_default_mix() -> None:
    runs = []
    for seed in (11, 11, 12):
        with IntercomSandbox(token=TOKEN, fault_rate=0.6, fault_seed=seed, late_ms=5) as faulty:
            api = Api(faulty)
            for _ in range(120):
                with contextlib.suppress(requests.ConnectionError):
                    api("GET", "/tags")
            runs.append(fault_decisions(faulty))
            injected = faulty.faults.injected
            assert sum(injected.values()) == sum(kind is not None for kind in runs[-1])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    drawn = {kind for kind in runs[0] if kind is not None}
    assert drawn == {"429", "500", "502", "503", "drop", "late", "late_drop", "empty200"}
    assert 0.45 < sum(kind is not None for kind in runs[0]) / 120 < 0.75


def test_fault_kinds_select_what_random_faults_draw_from() -> None:
    with IntercomSandbox(token=TOKEN, fault_rate=1.0, fault_seed=3, fault_kinds="502, empty200") as faulty:
        api = Api(faulty)
        outcomes = [api("GET", "/tags") for _ in range(30)]
        assert {(response.status_code, response.content == b"") for response in outcomes} == {
            (502, False),
            (200, True),
        }
        assert set(faulty.faults.injected) == {"502", "empty200"}
    assert random_fault_outcomes(10, fault_rate=1.0, fault_seed=1, fault_kinds=["drop"]) == ["drop"] * 10


@pytest.mark.parametrize("kinds", ["", "500,teapot", ["delay"]])
def test_fault_kinds_refuse_unknown_or_empty_selections(kinds: Any) -> None:
    with pytest.raises(ValueError, match="fault kind"):
        IntercomSandbox(token=TOKEN, fault_rate=0.5, fault_kinds=kinds)


def test_injected_late_applies_the_write_then_answers_after_late_ms() -> None:
    with IntercomSandbox(token=TOKEN, seed=SEED, late_ms=400) as sandbox:
        api = Api(sandbox)
        sandbox.inject("late")
        answered: list[requests.Response] = []
        started = time.monotonic()
        client = threading.Thread(
            target=lambda: answered.append(api("POST", f"/contacts/{CAROL}/tags", json={"id": VIP}))
        )
        client.start()
        deadline = time.monotonic() + 0.3
        while VIP not in sandbox.state.contacts[CAROL].tags and time.monotonic() < deadline:
            time.sleep(0.01)
        # The write took effect while the answer is still held back.
        assert VIP in sandbox.state.contacts[CAROL].tags
        assert not answered
        client.join(TIMEOUT)
        assert time.monotonic() - started >= 0.4
        assert answered[0].status_code == 200
        assert answered[0].json()["id"] == VIP
        assert sandbox.requests[-1]["fault"] == "late"
        assert sandbox.requests[-1]["status"] == 200


def test_injected_late_with_its_own_delay_and_a_client_that_gives_up(
    sandbox: IntercomSandbox, api: Api
) -> None:
    sandbox.inject(("late", 1500))
    with pytest.raises(requests.ReadTimeout):
        api.session.post(f"{sandbox.url}/contacts/{CAROL}/tags", json={"id": TRIAL}, timeout=(TIMEOUT, 0.3))
    assert TRIAL in sandbox.state.contacts[CAROL].tags
    # The retry finds the tag already there, and the server still answers other requests.
    retried = api("POST", f"/contacts/{CAROL}/tags", json={"id": TRIAL})
    assert retried.status_code == 200
    assert [entry["fault"] for entry in sandbox.requests] == ["late", None]


def test_injected_late_drop_applies_the_write_then_drops_the_connection() -> None:
    with IntercomSandbox(token=TOKEN, seed=SEED, late_ms=200) as sandbox:
        api = Api(sandbox)
        sandbox.inject("late_drop")
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            api("DELETE", f"/contacts/{ALICE}/tags/{TRIAL}")
        assert time.monotonic() - started >= 0.2
        assert TRIAL not in sandbox.state.contacts[ALICE].tags
        entry = sandbox.requests[-1]
        assert (entry["method"], entry["status"], entry["fault"]) == ("DELETE", None, "late_drop")
        # Deleting again converges: the tag is already gone, and the answer is the same tag.
        again = api("DELETE", f"/contacts/{ALICE}/tags/{TRIAL}")
        assert again.status_code == 200
        assert again.json()["id"] == TRIAL


def test_late_faults_on_a_refused_request_change_nothing(sandbox: IntercomSandbox) -> None:
    sandbox.inject(("late_drop", 10))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.url}/tags", json={"name": "nope"}, timeout=TIMEOUT)
    assert sandbox.state.find_tag_by_name("nope") is None


def test_injected_empty200_and_502_replace_the_answer_and_skip_the_write(
    sandbox: IntercomSandbox, api: Api
) -> None:
    sandbox.inject("empty200", "502")
    empty = api("POST", f"/contacts/{CAROL}/tags", json={"id": VIP})
    assert (empty.status_code, empty.content) == (200, b"")
    bad_gateway = api("POST", f"/contacts/{CAROL}/tags", json={"id": VIP})
    assert_error(bad_gateway, 502, "server_error", "Bad Gateway")
    assert VIP not in sandbox.state.contacts[CAROL].tags
    assert [entry["fault"] for entry in sandbox.requests] == ["empty200", "502"]
    assert sandbox.faults.injected == {"empty200": 1, "502": 1}


def test_injected_429_reset_can_follow_the_rate_limit_window() -> None:
    with IntercomSandbox(token=TOKEN, window_seconds=5, injected_429_reset_seconds=None) as sandbox:
        api = Api(sandbox)
        sandbox.inject("429")
        before = time.time()
        response = api("GET", "/tags")
        reset = int(response.headers["X-RateLimit-Reset"])
        assert response.status_code == 429
        assert reset % 5 == 0
        assert before < reset <= before + 5
    with IntercomSandbox(token=TOKEN, injected_429_reset_seconds=3) as sandbox:
        sandbox.inject("429")
        before = time.time()
        reset = int(Api(sandbox)("GET", "/tags").headers["X-RateLimit-Reset"])
        assert before + 3 <= reset <= math.ceil(before + 3) + 1


@pytest.mark.parametrize("settings", [{"late_ms": -1}, {"injected_429_reset_seconds": -2}])
def test_negative_late_or_reset_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        IntercomSandbox(token=TOKEN, **settings)


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


def test_a_client_that_resets_its_connection_leaves_no_traceback(
    sandbox: IntercomSandbox, api: Api, capfd: pytest.CaptureFixture[str]
) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=TIMEOUT) as connection:
        # Linger 0: close() sends a reset, as the kernel does for a killed process with unread data.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.sendall(b"GET /tags HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert api("GET", "/tags").status_code == 200
    time.sleep(0.2)
    assert "Traceback" not in capfd.readouterr().err


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


def test_request_log_keeps_query_strings_and_bodies_of_every_method(
    sandbox: IntercomSandbox, api: Api
) -> None:
    api("GET", "/companies", params=[("tag_id", "6"), ("tag_id", "7"), ("per_page", "2")])
    api("DELETE", f"/conversations/1001/tags/{VIP}", json={"admin_id": ADMIN})
    api("PUT", f"/contacts/{ALICE}", json={"name": "A"})
    api("DELETE", f"/tags/{VIP}")
    log = sandbox.requests
    assert [(entry["method"], entry["path"], entry["query"], entry["body"]) for entry in log] == [
        ("GET", "/companies", {"tag_id": "7", "per_page": "2"}, None),
        ("DELETE", f"/conversations/1001/tags/{VIP}", {}, {"admin_id": ADMIN}),
        ("PUT", f"/contacts/{ALICE}", {}, {"name": "A"}),
        ("DELETE", f"/tags/{VIP}", {}, None),
    ]


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


def test_demo_seed_has_a_segment_a_shared_email_and_a_merged_contact() -> None:
    state = SandboxState(DEMO_SEED)
    (segment,) = state.segments.values()
    assert segment.tag_ids == [state.find_tag_by_name("vip").id]  # type: ignore[union-attr]
    grace = [contact for contact in state.live_contacts() if contact.email == "grace@example.com"]
    assert sorted((contact.role, contact.external_id) for contact in grace) == [
        ("lead", None),
        ("user", "user-007"),
    ]
    (merged,) = [contact for contact in state.contacts.values() if contact.merged_into is not None]
    assert merged.merged_into == "65a000000000000000000001"
    # The ids earlier demos and tests use are unchanged.
    assert state.contacts["65a000000000000000000007"].email == "grace@example.com"
    assert state.contacts["65a000000000000000000001"].email == "alice@example.com"
    assert {tag.id: tag.name for tag in state.tags.values()} == {
        "101": "trial",
        "102": "vip",
        "103": "beta-tester",
    }
    assert set(state.conversations) == {"1001"}
    assert set(state.tickets) == {"2001"}


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
        {"segments": [{"name": "Seg", "tag_ids": ["404"]}]},
        {"tickets": [{"id": "1", "tags": ["404"]}]},
        {"contacts": [{"id": "a", "merged_into": "a"}]},
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


def run_sandbox_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_intercom.sandbox", *arguments],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


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
    result = run_sandbox_cli("--port", "0", "--seed", "demo", "--", sys.executable, "-c", child)
    assert result.returncode == 7, result.stderr
    ready, names = result.stdout.splitlines()
    assert ready.startswith("Intercom sandbox listening on http://127.0.0.1:")
    assert names == "beta-tester,trial,vip"


def test_cli_help() -> None:
    result = run_sandbox_cli("--help")
    assert result.returncode == 0
    for flag in ("--fault-rate", "--fault-seed", "--fault-kinds", "--late-ms", "--fault-429-reset"):
        assert flag in result.stdout


def run_cli_child(*flags: str) -> list[str]:
    """Run the CLI with a child that sends 12 writes, then lists tags; return its report lines."""
    child = (
        "import json, os, time, urllib.error, urllib.request;"
        "conn = json.loads(os.environ['AIRFLOW_CONN_INTERCOM_DEFAULT']);"
        "headers = {'Authorization': 'Bearer ' + conn['password'], 'Content-Type': 'application/json'}\n"
        "def send(method, path, body=None):\n"
        "    data = None if body is None else json.dumps(body).encode()\n"
        "    request = urllib.request.Request(conn['host'] + path, data, headers, method=method)\n"
        "    started = time.monotonic()\n"
        "    try:\n"
        "        with urllib.request.urlopen(request, timeout=10) as answer:\n"
        "            outcome = str(answer.status)\n"
        "    except urllib.error.HTTPError as error:\n"
        "        outcome = str(error.code)\n"
        "    except (urllib.error.URLError, ConnectionError):\n"
        "        outcome = 'drop'\n"
        "    return outcome + ('+late' if time.monotonic() - started >= 0.25 else '')\n"
        "print(' '.join(send('POST', '/tags', {'name': f'cli-{n}'}) for n in range(12)))\n"
        "names = sorted(tag['name'] for tag in json.load(urllib.request.urlopen("
        "urllib.request.Request(conn['host'] + '/tags', headers=headers), timeout=10))['data'])\n"
        "print(','.join(names))"
    )
    result = run_sandbox_cli("--port", "0", *flags, "--", sys.executable, "-c", child)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[1:]


def test_cli_fault_flags_select_kinds_late_ms_and_repeat_with_the_seed() -> None:
    flags = ("--fault-rate", "0.7", "--fault-seed", "4", "--fault-kinds", "502,late,late_drop")
    first = run_cli_child(*flags, "--late-ms", "300")
    assert first == run_cli_child(*flags, "--late-ms", "300")
    outcomes, names = first[0].split(" "), first[1].split(",") if first[1] else []
    assert set(outcomes) == {"200", "502", "200+late", "drop+late"}, outcomes
    # 502s created nothing; late answers and late drops created their tag all the same.
    created = {f"cli-{n}" for n, outcome in enumerate(outcomes) if outcome != "502"}
    assert set(names) == created
    quiet = run_cli_child(*flags, "--late-ms", "0")
    assert "late" not in " ".join(quiet[:1])


def test_cli_parses_and_checks_the_fault_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from airflow_provider_intercom.sandbox.__main__ import build_parser

    parser = build_parser()
    defaults = parser.parse_args([])
    assert defaults.fault_kinds == ("429", "500", "502", "503", "drop", "late", "late_drop", "empty200")
    assert (defaults.late_ms, defaults.fault_429_reset) == (3000.0, 1.0)
    chosen = parser.parse_args(
        ["--fault-kinds", "late_drop,503", "--late-ms", "450", "--fault-429-reset", "window"]
    )
    assert (chosen.fault_kinds, chosen.late_ms, chosen.fault_429_reset) == (("late_drop", "503"), 450.0, None)
    assert parser.parse_args(["--fault-429-reset", "4"]).fault_429_reset == 4.0
    for bad in (["--fault-kinds", "500,teapot"], ["--late-ms", "-5"], ["--fault-429-reset", "soon"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(bad)
        assert exited.value.code == 2
    assert "teapot" in capsys.readouterr().err


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
