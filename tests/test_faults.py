"""
Faults that leave a write applied but unanswered, and a fault soak of the bulk operators.

Every write the hook retries must be idempotent at Intercom, so that a retry after "applied, answer
lost" converges on the same end state. The convergence tests make the sandbox apply a write and then
drop the connection (``late_drop``) or answer after the hook's read timeout (``late``), and check
both that the hook call succeeded and what the sandbox holds afterwards.

The soak (``test_soak_*``; run it alone with ``pytest tests/test_faults.py -k soak``) runs the contact
operators through their normal ``execute`` against a sandbox that faults 20% of requests with a fixed
seed, using the hook's default retry settings, and checks the end state item by item against the plan.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomPartialFailureError
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.tags import (
    DeleteTagOperator,
    TagContactsOperator,
    UntagContactsOperator,
)
from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.airflow_runs import RecordingTaskInstance

# A late answer must come after the hook's read timeout; a late drop needs no timeout at all.
LATE_FAULTS = [
    pytest.param(("late_drop", 150), {}, id="late_drop"),
    pytest.param(("late", 1500), {"timeout": (5.0, 0.3)}, id="late-after-read-timeout"),
]


def writes_to(sandbox: IntercomSandbox, method: str, path: str) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.requests if entry["method"] == method and entry["path"] == path]


def assert_sent_twice_first_faulted(
    sandbox: IntercomSandbox, method: str, path: str, fault: tuple[str, float]
) -> None:
    """The write went out twice: the faulted attempt (applied) and the retry that got an answer."""
    sent = writes_to(sandbox, method, path)
    assert [entry["fault"] for entry in sent] == [fault[0], None]
    assert sent[1]["status"] == 200
    assert sent[0]["body"] == sent[1]["body"]


# -- convergence: applied but not answered ---------------------------------------------------------------


@pytest.mark.parametrize(("fault", "hook_kwargs"), LATE_FAULTS)
def test_tag_contact_converges(
    intercom_sandbox: IntercomSandbox, fault: tuple[str, float], hook_kwargs: dict[str, Any]
) -> None:
    state = intercom_sandbox.state
    contact = state.add_contact(email="a@example.com", role="user")
    tag = state.add_tag("vip")
    intercom_sandbox.inject(fault)
    answer = IntercomHook(**hook_kwargs).tag_contact(contact.id, tag.id)
    assert answer["id"] == tag.id
    assert set(state.contacts[contact.id].tags) == {tag.id}
    assert_sent_twice_first_faulted(intercom_sandbox, "POST", f"/contacts/{contact.id}/tags", fault)


@pytest.mark.parametrize(("fault", "hook_kwargs"), LATE_FAULTS)
def test_untag_contact_converges(
    intercom_sandbox: IntercomSandbox, fault: tuple[str, float], hook_kwargs: dict[str, Any]
) -> None:
    state = intercom_sandbox.state
    tag, other = state.add_tag("vip"), state.add_tag("trial")
    contact = state.add_contact(email="a@example.com", role="user", tags=[tag.id, other.id])
    intercom_sandbox.inject(fault)
    answer = IntercomHook(**hook_kwargs).untag_contact(contact.id, tag.id)
    assert answer["id"] == tag.id
    assert set(state.contacts[contact.id].tags) == {other.id}
    assert_sent_twice_first_faulted(
        intercom_sandbox, "DELETE", f"/contacts/{contact.id}/tags/{tag.id}", fault
    )


@pytest.mark.parametrize("version", ["2.11", "2.16"])
@pytest.mark.parametrize(("fault", "hook_kwargs"), LATE_FAULTS)
def test_bulk_tag_users_converges(
    intercom_sandbox: IntercomSandbox, fault: tuple[str, float], hook_kwargs: dict[str, Any], version: str
) -> None:
    state = intercom_sandbox.state
    ids = [state.add_contact(email=f"u{n}@example.com", role="user").id for n in range(3)]
    intercom_sandbox.inject(fault)
    IntercomHook(api_version=version, **hook_kwargs).tag_users("churn-risk", ids)
    tag = state.find_tag_by_name("churn-risk")
    assert tag is not None
    assert [tag_name for tag_name in state.tags.values() if tag_name.name == "churn-risk"] == [tag]
    assert all(set(state.contacts[contact_id].tags) == {tag.id} for contact_id in ids)
    assert_sent_twice_first_faulted(intercom_sandbox, "POST", "/tags", fault)


@pytest.mark.parametrize("untag", [False, True])
@pytest.mark.parametrize(("fault", "hook_kwargs"), LATE_FAULTS)
def test_bulk_company_tagging_converges(
    intercom_sandbox: IntercomSandbox, fault: tuple[str, float], hook_kwargs: dict[str, Any], untag: bool
) -> None:
    state = intercom_sandbox.state
    tag = state.add_tag("trial")
    acme = state.add_company(company_id="acme", name="Acme", tags=[] if not untag else [tag.id])
    globex = state.add_company(company_id="globex", tags=[] if not untag else [tag.id])
    hook = IntercomHook(**hook_kwargs)
    intercom_sandbox.inject(fault)
    call = hook.untag_companies if untag else hook.tag_companies
    call("trial", [{"id": acme.id}, {"company_id": "globex"}])
    expected = set() if untag else {tag.id}
    assert set(state.companies[acme.id].tags) == set(state.companies[globex.id].tags) == expected
    assert_sent_twice_first_faulted(intercom_sandbox, "POST", "/tags", fault)


@pytest.mark.parametrize(("fault", "hook_kwargs"), LATE_FAULTS)
def test_create_tag_by_name_converges(
    intercom_sandbox: IntercomSandbox, fault: tuple[str, float], hook_kwargs: dict[str, Any]
) -> None:
    hook = IntercomHook(**hook_kwargs)
    intercom_sandbox.inject(fault)
    created = hook.create_or_update_tag("Churn-Risk")
    # get_or_create_tag: a faultless GET /tags finds nothing, then the POST is applied but not answered.
    intercom_sandbox.inject(("delay", 0), fault, path="/tags")
    again = hook.get_or_create_tag("onboarding")
    names = sorted(tag.name for tag in intercom_sandbox.state.tags.values())
    assert names == ["Churn-Risk", "onboarding"]
    assert created["id"] == intercom_sandbox.state.find_tag_by_name("churn-risk").id  # type: ignore[union-attr]
    assert again["id"] == intercom_sandbox.state.find_tag_by_name("onboarding").id  # type: ignore[union-attr]
    assert [entry["fault"] for entry in writes_to(intercom_sandbox, "POST", "/tags")] == [
        fault[0],
        None,
        fault[0],
        None,
    ]


@pytest.mark.parametrize(("fault", "hook_kwargs"), LATE_FAULTS)
def test_conversation_tagging_converges(
    intercom_sandbox: IntercomSandbox, fault: tuple[str, float], hook_kwargs: dict[str, Any]
) -> None:
    state = intercom_sandbox.state
    admin = state.primary_admin()
    tag = state.add_tag("escalated")
    conversation = state.add_conversation(id="1001")
    hook = IntercomHook(**hook_kwargs)
    intercom_sandbox.inject(fault)
    hook.tag_conversation(conversation.id, tag.id, admin.id)
    assert set(state.conversations[conversation.id].tags) == {tag.id}
    intercom_sandbox.inject(fault)
    hook.untag_conversation(conversation.id, tag.id, admin.id)
    assert state.conversations[conversation.id].tags == {}


def test_delete_tag_after_a_lost_answer_succeeds(intercom_sandbox: IntercomSandbox) -> None:
    state = intercom_sandbox.state
    tag = state.add_tag("old-campaign")
    intercom_sandbox.inject(("late_drop", 50), path=f"/tags/{tag.id}")
    context: Any = {"ti": RecordingTaskInstance()}
    # DELETE /tags/{id} is not idempotent at Intercom: the retry after the lost answer gets 404,
    # which the operator takes as done, since the tag existed when it looked.
    result = DeleteTagOperator(task_id="delete", tag_name="old-campaign").execute(context)
    assert state.find_tag_by_name("old-campaign") is None
    assert [entry["status"] for entry in writes_to(intercom_sandbox, "DELETE", f"/tags/{tag.id}")] == [
        None,
        404,
    ]
    assert result["deleted"] is True


def test_untag_contact_with_an_empty_200_is_retried(intercom_sandbox: IntercomSandbox) -> None:
    state = intercom_sandbox.state
    tag = state.add_tag("vip")
    contact = state.add_contact(email="a@example.com", role="user", tags=[tag.id])
    intercom_sandbox.inject("empty200")
    # detachTagFromContact answers a tag: an empty body means the answer was lost, so the hook retries.
    assert IntercomHook().untag_contact(contact.id, tag.id)["id"] == tag.id
    assert state.contacts[contact.id].tags == {}
    sent = writes_to(intercom_sandbox, "DELETE", f"/contacts/{contact.id}/tags/{tag.id}")
    assert [entry["fault"] for entry in sent] == ["empty200", None]


# -- soak ------------------------------------------------------------------------------------------------

SOAK_SEED = 20261123
SOAK_TAG = "churn-risk"
# Room for the 10 unknown ids each task is given, and a few failures besides.
SOAK_MAX_FAILED_RATIO = 0.01
# The default mix of the sandbox, named here so the test can check every kind was injected.
SOAK_FAULT_KINDS = ("429", "500", "502", "503", "drop", "late", "late_drop", "empty200")


@pytest.fixture
def soak_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[IntercomSandbox]:
    """A sandbox faulting 20% of requests (429s reset with the 1-second window), with a generous limit."""
    with IntercomSandbox(
        port=0,
        token="soak-token",
        rate_limit=2000,
        window_seconds=1,
        fault_rate=0.2,
        fault_seed=SOAK_SEED,
        fault_kinds=SOAK_FAULT_KINDS,
        late_ms=300,
        injected_429_reset_seconds=None,
    ) as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", sandbox_connection(sandbox))
        yield sandbox


def sandbox_connection(sandbox: IntercomSandbox) -> str:
    return json.dumps(sandbox.airflow_connection())


def run_to_report(operator: Any) -> tuple[dict[str, Any], IntercomPartialFailureError | None]:
    """Run ``execute`` as a worker would; only the designed partial failure may escape it."""
    ti = RecordingTaskInstance()
    try:
        return operator.execute({"ti": ti}), None
    except IntercomPartialFailureError as error:
        caught = error
    # The report was pushed before the task failed, so nothing done is lost.
    assert ti.pushed["return_value"] == caught.report
    return caught.report, caught


def assert_accounted(report: dict[str, Any], requested: list[str]) -> None:
    failed = [entry["id"] for entry in report["failed"]]
    buckets = [*report["succeeded"], *report["not_found"], *failed]
    assert report["requested"] == len(requested)
    assert len(report["succeeded"]) + len(report["not_found"]) + len(failed) == len(requested)
    assert sorted(buckets) == sorted(requested)


def test_soak_tag_and_untag_thousands_of_contacts_under_random_faults(
    soak_sandbox: IntercomSandbox,
) -> None:
    state = soak_sandbox.state
    tag = state.add_tag(SOAK_TAG)
    contacts = [state.add_contact(email=f"soak{n}@example.com", role="user").id for n in range(5020)]
    # Already tagged before the run: some the untag task will clear, some nobody touches.
    for contact_id in [*contacts[3000:3005], *contacts[5000:5010]]:
        state.contacts[contact_id].tags[tag.id] = int(time.time())
    unknown = [f"{n:024x}" for n in range(1, 11)]
    to_tag = [*contacts[:4990], *unknown]
    to_untag = [*contacts[3000:4990], *unknown]
    assert (len(to_tag), len(to_untag)) == (5000, 2000)

    started = time.monotonic()
    tag_report, tag_error = run_to_report(
        TagContactsOperator(
            task_id="tag",
            tag_name=SOAK_TAG,
            contact_ids=to_tag,
            max_failed_ratio=SOAK_MAX_FAILED_RATIO,
            max_xcom_items=10_000,  # every item listed: the soak accounts for each one
        )
    )
    tagged_at = time.monotonic()
    untag_report, untag_error = run_to_report(
        UntagContactsOperator(
            task_id="untag",
            tag_name=SOAK_TAG,
            contact_ids=to_untag,
            max_failed_ratio=SOAK_MAX_FAILED_RATIO,
            max_xcom_items=10_000,  # every item listed: the soak accounts for each one
            max_workers=4,
        )
    )
    finished = time.monotonic()
    injected = soak_sandbox.faults.injected
    print(
        f"\nsoak: tag {tagged_at - started:.1f} s, untag {finished - tagged_at:.1f} s, "
        f"{len(soak_sandbox.requests)} requests, faults {dict(sorted(injected.items()))}"
    )

    assert_accounted(tag_report, to_tag)
    assert_accounted(untag_report, to_untag)
    assert sorted(tag_report["not_found"]) == sorted(unknown)
    assert sorted(untag_report["not_found"]) == sorted(unknown)
    for report, error in ((tag_report, tag_error), (untag_report, untag_error)):
        # The task fails exactly when its report misses more items than max_failed_ratio allows.
        missed = len(report["failed"]) + len(report["not_found"])
        assert (error is not None) == (missed > SOAK_MAX_FAILED_RATIO * report["requested"])
    # A failed item's write may or may not have landed; every other item's must match the plan exactly.
    unsure = {entry["id"] for report in (tag_report, untag_report) for entry in report["failed"]}
    should_carry = (set(contacts[:4990]) | set(contacts[5000:5010])) - set(contacts[3000:4990])
    wrong = [
        contact_id
        for contact_id in contacts
        if contact_id not in unsure
        and (tag.id in state.contacts[contact_id].tags) != (contact_id in should_carry)
    ]
    faults_of_wrong = {
        contact_id: [entry["fault"] for entry in soak_sandbox.requests if contact_id in entry["path"]]
        for contact_id in wrong[:10]
    }
    assert wrong == [], f"{len(wrong)} contacts end wrong; faults their requests got: {faults_of_wrong}"
    assert [tag_.name for tag_ in state.tags.values()] == [SOAK_TAG]
    # The mix really ran: every kind of fault was injected, and the 20% rate held.
    assert set(injected) == set(SOAK_FAULT_KINDS)
    assert 0.15 < sum(injected.values()) / len(soak_sandbox.requests) < 0.25
