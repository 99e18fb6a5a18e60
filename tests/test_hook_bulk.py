"""The hook's bulk, company, conversation, ticket and resolution methods against the sandbox."""

from __future__ import annotations

import pytest

from airflow_provider_intercom.exceptions import IntercomConfigurationError, IntercomNotFoundError
from airflow_provider_intercom.hooks.intercom import IntercomHook
from tests.airflow_runs import airflow_log


def calls(sandbox, method: str, path: str) -> list[dict]:
    return [entry for entry in sandbox.requests if entry["method"] == method and entry["path"] == path]


def test_find_tag_by_name_and_get_or_create(intercom_sandbox):
    hook = IntercomHook()
    existing = intercom_sandbox.state.add_tag("Churn-Risk")
    assert hook.find_tag_by_name("churn-risk")["id"] == existing.id
    assert hook.find_tag_by_name("absent") is None
    assert hook.get_or_create_tag("CHURN-RISK")["id"] == existing.id
    assert calls(intercom_sandbox, "POST", "/tags") == []  # found: nothing written
    created = hook.get_or_create_tag("new")
    assert intercom_sandbox.state.find_tag_by_name("new").id == created["id"]


def test_tag_users_2_11_unknown_id_fails_the_whole_batch(intercom_sandbox):
    contact = intercom_sandbox.state.add_contact(email="a@example.com").id
    with pytest.raises(IntercomNotFoundError) as caught:
        IntercomHook(api_version="2.11").tag_users("vip", [contact, "ghost"])
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    assert intercom_sandbox.state.contacts[contact].tags == {}  # nobody in the batch was tagged


def test_tag_users_2_16_skips_unknown_ids(intercom_sandbox):
    contact = intercom_sandbox.state.add_contact(email="a@example.com").id
    answer = IntercomHook(api_version="2.16").tag_users("vip", [contact, "ghost"])
    assert answer["name"] == "vip"
    assert answer["users"] == [{"id": contact, "tagged": True}]
    assert calls(intercom_sandbox, "POST", "/tags")[0]["body"] == {
        "name": "vip",
        "users": [{"id": contact}, {"id": "ghost"}],
    }


def test_untag_companies_may_name_both_ids(intercom_sandbox):
    # 2.11's untag schema asks for both ids on every item, so both are allowed.
    company = intercom_sandbox.state.add_company(company_id="acme", name="Acme")
    IntercomHook().untag_companies("trial", [{"id": company.id, "company_id": "acme"}])
    (call,) = calls(intercom_sandbox, "POST", "/tags")
    assert call["body"]["companies"] == [{"id": company.id, "company_id": "acme", "untag": True}]


def test_tag_and_untag_companies_bodies(intercom_sandbox):
    hook = IntercomHook()
    company = intercom_sandbox.state.add_company(company_id="acme", name="Acme")
    hook.tag_companies("trial", [{"company_id": "acme"}])
    assert intercom_sandbox.state.find_tag_by_name("trial").id in company.tags
    hook.untag_companies("trial", [{"id": company.id}])
    assert company.tags == {}
    bodies = [entry["body"] for entry in calls(intercom_sandbox, "POST", "/tags")]
    assert bodies == [
        {"name": "trial", "companies": [{"company_id": "acme"}]},
        {"name": "trial", "companies": [{"id": company.id, "untag": True}]},
    ]


@pytest.mark.parametrize("company", [{"id": "1", "name": "x"}, {"name": "x"}, "acme", {"id": ""}, {}])
def test_bad_company_items_are_refused(intercom_sandbox, company):
    with pytest.raises(IntercomConfigurationError, match=r"companies\[0\]"):
        IntercomHook().tag_companies("trial", [company])
    assert intercom_sandbox.requests == []


def test_find_get_and_list_companies(intercom_sandbox):
    hook = IntercomHook()
    tag = intercom_sandbox.state.add_tag("trial")
    companies = [
        intercom_sandbox.state.add_company(company_id=f"c{n}", name=f"C{n}", tags=[tag.id] if n % 2 else [])
        for n in range(7)
    ]
    assert hook.find_company("c3")["id"] == companies[3].id
    assert hook.get_company(companies[4].id)["company_id"] == "c4"
    with pytest.raises(IntercomNotFoundError):
        hook.find_company("nope")
    listed = list(hook.list_companies(tag_id=tag.id, per_page=2))
    assert [company["company_id"] for company in listed] == ["c1", "c3", "c5"]
    pages = calls(intercom_sandbox, "GET", "/companies")[-2:]
    assert [entry["query"]["page"] for entry in pages] == ["1", "2"]


def test_update_contact(intercom_sandbox):
    contact = intercom_sandbox.state.add_contact(email="old@example.com").id
    updated = IntercomHook().update_contact(contact, name="Renamed", custom_attributes={"plan": "pro"})
    assert updated["name"] == "Renamed"
    assert calls(intercom_sandbox, "PUT", f"/contacts/{contact}")[0]["body"] == {
        "name": "Renamed",
        "custom_attributes": {"plan": "pro"},
    }
    with pytest.raises(IntercomConfigurationError, match="cannot change tags"):
        IntercomHook().update_contact(contact, tags=["1"])


def test_resolve_contacts(intercom_sandbox):
    state = intercom_sandbox.state
    user = state.add_contact(email="shared@example.com", role="user", external_id="x-1").id
    lead = state.add_contact(email="shared@example.com", role="lead").id
    solo = state.add_contact(email="solo@example.com", role="user", external_id="x-2").id
    result = IntercomHook().resolve_contacts(
        emails=["Shared@Example.com", "solo@example.com", "none@example.com"],
        external_ids=["x-1", "x-2", "x-9"],
        chunk_size=2,
    )
    assert sorted(result["emails"]["Shared@Example.com"]) == sorted([user, lead])
    assert result["emails"]["solo@example.com"] == [solo]
    assert result["external_ids"] == {"x-1": [user], "x-2": [solo]}
    assert result["unresolved"] == {"emails": ["none@example.com"], "external_ids": ["x-9"]}
    assert result["ambiguous"] == {"emails": ["Shared@Example.com"], "external_ids": []}
    searches = [entry["body"]["query"] for entry in calls(intercom_sandbox, "POST", "/contacts/search")]
    assert [(query["field"], query["operator"], len(query["value"])) for query in searches] == [
        ("email", "IN", 2),
        ("email", "IN", 1),
        ("external_id", "IN", 2),
        ("external_id", "IN", 1),
    ]


def test_unknown_contact_ids(intercom_sandbox):
    known = [intercom_sandbox.state.add_contact(email=f"k{n}@example.com").id for n in range(3)]
    assert IntercomHook().unknown_contact_ids([known[0], "ghost-1", known[1], "ghost-2", known[2]]) == [
        "ghost-1",
        "ghost-2",
    ]


def test_merged_contact_2_11_is_not_found(intercom_sandbox):
    state = intercom_sandbox.state
    kept = state.add_contact(email="kept@example.com").id
    merged = state.add_contact(email="merged@example.com").id
    state.merge_contact(merged, into_id=kept)
    with pytest.raises(IntercomNotFoundError) as caught:
        IntercomHook(api_version="2.11").get_contact(merged)
    assert caught.value.status == 404


def test_merged_contact_2_16_follows_the_canonical_link_once(intercom_sandbox, capfd, caplog):
    state = intercom_sandbox.state
    kept = state.add_contact(email="kept@example.com").id
    merged = state.add_contact(email="merged@example.com").id
    state.merge_contact(merged, into_id=kept)
    contact = IntercomHook(api_version="2.16").get_contact(merged)
    assert contact["id"] == kept
    assert [entry["status"] for entry in intercom_sandbox.requests] == [410, 200]
    assert f"Contact {merged} was merged; following its canonical link to /contacts/{kept}" in airflow_log(
        capfd, caplog
    )


def test_conversation_tags(intercom_sandbox):
    state = intercom_sandbox.state
    hook = IntercomHook()
    admin = state.primary_admin().id
    conversation = state.add_conversation().id
    tag = hook.create_or_update_tag("escalated")
    applied = hook.tag_conversation(conversation, tag["id"], admin)
    assert applied["applied_by"]["id"] == admin
    assert tag["id"] in state.conversations[conversation].tags
    hook.untag_conversation(conversation, tag["id"], admin)
    assert state.conversations[conversation].tags == {}
    delete = calls(intercom_sandbox, "DELETE", f"/conversations/{conversation}/tags/{tag['id']}")[0]
    assert delete["body"] == {"admin_id": admin}


@pytest.mark.parametrize("version", ["2.10", "2.11", "2.16", "Preview"])
def test_ticket_tags_from_2_10(intercom_sandbox, version):
    state = intercom_sandbox.state
    hook = IntercomHook(api_version=version)
    ticket = state.add_ticket().id
    tag = hook.create_or_update_tag("billing")
    hook.tag_ticket(ticket, tag["id"], state.primary_admin().id)
    assert tag["id"] in state.tickets[ticket].tags
    hook.untag_ticket(ticket, tag["id"], state.primary_admin().id)
    assert state.tickets[ticket].tags == {}


@pytest.mark.parametrize("method", ["tag_ticket", "untag_ticket"])
def test_ticket_tags_refused_before_2_10(intercom_sandbox, method):
    hook = IntercomHook(api_version="2.9")
    with pytest.raises(
        IntercomConfigurationError, match=r"needs Intercom API 2.10 or later.*api_version='2.9'"
    ):
        getattr(hook, method)("1", "2", "3")
    assert intercom_sandbox.requests == []


def test_count_contacts_with_tag(intercom_sandbox):
    state = intercom_sandbox.state
    tag = state.add_tag("churn-risk")
    for n in range(5):
        state.add_contact(email=f"c{n}@example.com", tags=[tag.id] if n < 3 else [])
    assert IntercomHook().count_contacts_with_tag(tag.id) == 3
    (search,) = calls(intercom_sandbox, "POST", "/contacts/search")
    assert search["body"] == {
        "query": {"field": "tag_id", "operator": "=", "value": tag.id},
        "pagination": {"per_page": 1},
    }
