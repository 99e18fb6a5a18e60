"""The /tags routes: list, find, create, rename, bulk tag and untag, delete."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import ALICE, BOB, CAROL, TRIAL, VIP, Api, assert_error, tag_ids_of

pytest_plugins = ["tests.sandbox_fixtures"]


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
