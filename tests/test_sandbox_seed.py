"""Seeds: the demo seed, generated and stringified ids, merges, refused shapes."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_intercom.sandbox.models import SandboxState, SeedError
from tests.sandbox_api import DEMO_SEED


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
