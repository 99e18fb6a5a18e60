"""Conversation and ticket tags."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import ADMIN, TRIAL, VIP, Api, assert_error

pytest_plugins = ["tests.sandbox_fixtures"]


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
    # Production answers an untagging with the tag, applied_at and applied_by null.
    assert detached.json() == {**tag, "applied_at": None, "applied_by": None}
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
    assert detached.json() == {
        "type": "tag",
        "id": TRIAL,
        "name": "trial",
        "applied_at": None,
        "applied_by": None,
    }
    assert conversation.tags == {}
