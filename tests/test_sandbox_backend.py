"""The backend on its own, without HTTP: the rules every change follows and the errors it raises."""

from __future__ import annotations

import pytest

from airflow_provider_intercom.sandbox.backend import IntercomBackend, find
from airflow_provider_intercom.sandbox.errors import (
    ContactConflict,
    ContactMerged,
    TagHasDependentObjects,
    TicketNotFound,
    UserNotFound,
)
from airflow_provider_intercom.sandbox.state import SandboxState
from tests.sandbox_api import ALICE, BOB, SEED, TRIAL, VIP


@pytest.fixture
def backend() -> IntercomBackend:
    return IntercomBackend(SandboxState(SEED))


def test_bulk_tagging_is_all_or_nothing_unless_unknown_items_are_skipped(backend: IntercomBackend) -> None:
    alice = backend.contact(ALICE)
    found = [(alice, False), (None, False)]
    with pytest.raises(UserNotFound):
        backend.tag_in_bulk("churn-risk", found, skip_unknown=False, not_found=UserNotFound)
    assert backend.state.find_tag_by_name("churn-risk") is None
    tag, results = backend.tag_in_bulk("churn-risk", found, skip_unknown=True, not_found=UserNotFound)
    assert results == [(alice, True)]
    assert tag.id in alice.tags
    _, untagged = backend.tag_in_bulk(
        "CHURN-RISK", [(alice, True)], skip_unknown=False, not_found=UserNotFound
    )
    assert untagged == [(alice, False)]
    assert tag.id not in alice.tags


def test_delete_tag_untags_everything_and_refuses_while_a_segment_uses_it(backend: IntercomBackend) -> None:
    backend.state.add_segment(name="Big spenders", tag_ids=[VIP])
    with pytest.raises(TagHasDependentObjects, match="Segments: Big spenders"):
        backend.delete_tag(VIP)
    conversation = backend.state.conversations["1001"]
    backend.attach_object_tag(conversation, backend.tag(TRIAL), backend.state.admins["7"])
    backend.delete_tag(TRIAL)
    assert TRIAL not in backend.state.tags
    assert TRIAL not in backend.state.contacts[BOB].tags
    assert (conversation.tags, conversation.applied_by) == ({}, {})


def test_a_merged_contact_is_unknown_or_reported_with_its_canonical_link(backend: IntercomBackend) -> None:
    backend.state.add_contact(id="old", role="lead", merged_into=ALICE)
    with pytest.raises(UserNotFound):
        backend.contact("old")
    with pytest.raises(ContactMerged) as merged:
        backend.contact("old", report_merge=True)
    assert (merged.value.status, merged.value.headers) == (
        410,
        {"Link": f'</contacts/{ALICE}>; rel="canonical"'},
    )
    assert backend.live_contact("old") is None


def test_update_contact_refuses_another_users_email_but_not_its_own(backend: IntercomBackend) -> None:
    alice = backend.contact(ALICE)
    with pytest.raises(ContactConflict, match=f"id={BOB}"):
        backend.update_contact(alice, {"email": "BOB@example.com"})
    assert backend.update_contact(alice, {"email": "alice@example.com", "name": "A"}).name == "A"


def test_find_raises_the_error_named_for_the_kind_of_object(backend: IntercomBackend) -> None:
    assert find(backend.state.tickets, "2001", TicketNotFound).id == "2001"
    with pytest.raises(TicketNotFound) as missing:
        find(backend.state.tickets, "404", TicketNotFound)
    assert (missing.value.status, missing.value.code, missing.value.message) == (
        404,
        "ticket_not_found",
        "Ticket not found",
    )
