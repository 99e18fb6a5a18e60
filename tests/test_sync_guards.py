"""
The sync guards judge the resolved desired set, never the raw input, and refuse before any write.

The case that made this file: a tag carried by 200 contacts, a sync given one email that matches no
contact, and removal guards relaxed. The desired set is empty, so the sync must refuse; counting the
input (one email) it would have stripped the tag from all 200.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomConfigurationError, IntercomSyncGuardError
from airflow_provider_intercom.operators.sync import SyncCompanyTagOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import TagContactsOperator, UntagCompaniesOperator
from tests.airflow_runs import RecordingTaskInstance, xcoms
from tests.test_sync import assert_accounted, carrying, writes

VERSIONS = ["2.11", "2.16"]
RELAXED = {"max_removal_ratio": 1.0, "max_removals": 1000}


def refused(operator_class, **kwargs: Any) -> tuple[IntercomSyncGuardError, dict[str, Any]]:
    """Run a sync that must be refused; return the error and the plan it pushed to XCom."""
    ti = RecordingTaskInstance()
    with pytest.raises(IntercomSyncGuardError) as caught:
        operator_class(task_id="sync", **kwargs).execute({"ti": ti})
    return caught.value, ti.pushed["return_value"]


@pytest.fixture
def big(intercom_sandbox) -> list[str]:
    """200 contacts carrying the tag "big", and 10 more (k0..k9@example.com) without it."""
    state = intercom_sandbox.state
    tag = state.add_tag("big")
    members = [state.add_contact(email=f"m{n}@example.com", tags=[tag.id]).id for n in range(200)]
    for n in range(10):
        state.add_contact(email=f"k{n}@example.com")
    intercom_sandbox.state.clear_request_log()
    return members


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("max_failed_ratio", [0.0, 1.0])
def test_emails_that_all_resolve_to_nothing_are_an_empty_desired_set(
    intercom_sandbox, big, version, max_failed_ratio
):
    error, plan = refused(
        SyncContactTagOperator,
        tag_name="big",
        emails=["nobody-at-all@x.com"],
        api_version=version,
        max_failed_ratio=max_failed_ratio,
        **RELAXED,
    )
    assert "desired set is empty (1 given, none of which resolved)" in str(error)
    assert "allow_empty=True" in str(error)
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, "big") == set(big)
    assert plan["plan"] == {"add": 0, "remove": 200}
    assert plan["not_found"] == ["nobody-at-all@x.com"]
    assert_accounted(plan)


@pytest.mark.parametrize("version", VERSIONS)
def test_contact_ids_that_all_belong_to_no_contact_are_an_empty_desired_set(intercom_sandbox, big, version):
    ghosts = [f"65ffffffffffffffffff{n:04d}" for n in range(3)]
    error, plan = refused(
        SyncContactTagOperator,
        tag_name="big",
        contact_ids=ghosts,
        api_version=version,
        max_failed_ratio=1.0,
        **RELAXED,
    )
    assert "desired set is empty (3 given, none of which resolved)" in str(error)
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, "big") == set(big)
    assert plan["not_found"] == ghosts
    assert plan["plan"] == {"add": 0, "remove": 200}


def test_allow_empty_still_lets_a_meant_empty_sync_through(intercom_sandbox, big):
    ti = RecordingTaskInstance()
    report = SyncContactTagOperator(
        task_id="sync",
        tag_name="big",
        emails=["nobody-at-all@x.com"],
        allow_empty=True,
        max_failed_ratio=1.0,
        **RELAXED,
    ).execute({"ti": ti})
    assert carrying(intercom_sandbox, "big") == set()
    assert len(report["removed"]) == 200
    assert report["not_found"] == ["nobody-at-all@x.com"]


@pytest.mark.parametrize("version", VERSIONS)
def test_sixty_percent_unknown_is_refused_before_any_write(intercom_sandbox, big, version):
    emails = [f"k{n}@example.com" for n in range(4)] + [f"gone{n}@example.com" for n in range(6)]
    error, plan = refused(
        SyncContactTagOperator,
        tag_name="big",
        emails=emails,
        api_version=version,
        max_failed_ratio=0.5,
        **RELAXED,
    )
    assert "6 of 10 desired items (60%) resolve to nothing, more than max_failed_ratio=0.5" in str(error)
    assert "raise max_failed_ratio to at least 0.60" in str(error)
    assert writes(intercom_sandbox) == []
    assert carrying(intercom_sandbox, "big") == set(big)
    assert plan["plan"] == {"add": 4, "remove": 200}


@pytest.mark.parametrize("version", VERSIONS)
def test_forty_percent_unknown_proceeds_and_reports_them(intercom_sandbox, big, version):
    state = intercom_sandbox.state
    known = [f"k{n}@example.com" for n in range(6)]
    unknown = [f"gone{n}@example.com" for n in range(4)]
    report = SyncContactTagOperator(
        task_id="sync",
        tag_name="big",
        emails=known + unknown,
        api_version=version,
        max_failed_ratio=0.5,
        **RELAXED,
    ).execute({"ti": RecordingTaskInstance()})
    assert report["not_found"] == unknown
    assert report["added"] == known
    assert len(report["removed"]) == 200
    wanted = {contact.id for contact in state.live_contacts() if contact.email in known}
    assert carrying(intercom_sandbox, "big") == wanted
    assert_accounted(report)


def test_unknown_contact_ids_are_looked_up_only_when_a_guard_hangs_on_them(intercom_sandbox, big):
    # Every guard holds even if the new id is unknown: no look-up, the bulk call reports it.
    newcomer = next(c.id for c in intercom_sandbox.state.live_contacts() if c.email == "k0@example.com")
    relaxed = {"tag_name": "big", "contact_ids": [*big, newcomer], "max_failed_ratio": 1.0}
    report = SyncContactTagOperator(task_id="sync", **relaxed).execute({"ti": RecordingTaskInstance()})
    searches = [
        entry["body"]["query"] for entry in intercom_sandbox.requests if entry["path"] == "/contacts/search"
    ]
    assert all(query["field"] == "tag_id" for query in searches)
    assert report["added"] == [newcomer]
    # With the default max_failed_ratio=0 the answer matters, and one id IN search gives it.
    intercom_sandbox.state.clear_request_log()
    ghost = "65ffffffffffffffffff0000"
    with pytest.raises(IntercomSyncGuardError, match="1 of 202 desired items"):
        SyncContactTagOperator(task_id="sync", tag_name="big", contact_ids=[*big, newcomer, ghost]).execute(
            {"ti": RecordingTaskInstance()}
        )
    searches = [
        entry["body"]["query"] for entry in intercom_sandbox.requests if entry["path"] == "/contacts/search"
    ]
    assert {"field": "id", "operator": "IN", "value": [ghost]} in searches
    assert writes(intercom_sandbox) == []


# -- companies ----------------------------------------------------------------------------------------------


@pytest.fixture
def trials(intercom_sandbox) -> list[str]:
    """20 companies (t0..t19) carrying "trial", and 10 more (n0..n9) without it; returns the members' ids."""
    state = intercom_sandbox.state
    tag = state.add_tag("trial")
    members = [state.add_company(company_id=f"t{n}", name=f"T{n}", tags=[tag.id]).id for n in range(20)]
    for n in range(10):
        state.add_company(company_id=f"n{n}", name=f"N{n}")
    intercom_sandbox.state.clear_request_log()
    return members


def on_trial(intercom_sandbox) -> set[str]:
    tag = intercom_sandbox.state.find_tag_by_name("trial")
    return {company.id for company in intercom_sandbox.state.companies.values() if tag.id in company.tags}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("max_failed_ratio", [0.0, 1.0])
def test_companies_that_all_match_nothing_are_an_empty_desired_set(
    intercom_sandbox, trials, version, max_failed_ratio
):
    error, plan = refused(
        SyncCompanyTagOperator,
        tag_name="trial",
        company_external_ids=["no-such-company"],
        company_ids=["65bfffffffffffffffff0000"],
        api_version=version,
        max_failed_ratio=max_failed_ratio,
        **RELAXED,
    )
    assert "desired set is empty (2 given, none of which resolved)" in str(error)
    assert writes(intercom_sandbox) == []
    assert on_trial(intercom_sandbox) == set(trials)
    assert plan["plan"] == {"add": 0, "remove": 20}
    assert plan["not_found"] == ["65bfffffffffffffffff0000", "no-such-company"]
    assert_accounted(plan)


@pytest.mark.parametrize("version", VERSIONS)
def test_sixty_percent_unknown_companies_are_refused_before_any_write(intercom_sandbox, trials, version):
    wanted = [f"n{n}" for n in range(4)] + [f"gone{n}" for n in range(6)]
    error, plan = refused(
        SyncCompanyTagOperator,
        tag_name="trial",
        company_external_ids=wanted,
        api_version=version,
        max_failed_ratio=0.5,
        **RELAXED,
    )
    assert "6 of 10 desired items (60%) resolve to nothing" in str(error)
    assert writes(intercom_sandbox) == []
    assert on_trial(intercom_sandbox) == set(trials)
    assert plan["plan"] == {"add": 4, "remove": 20}


@pytest.mark.parametrize("version", VERSIONS)
def test_forty_percent_unknown_companies_proceed_and_are_reported(intercom_sandbox, trials, version):
    state = intercom_sandbox.state
    known = [f"n{n}" for n in range(6)]
    unknown = [f"gone{n}" for n in range(4)]
    report = SyncCompanyTagOperator(
        task_id="sync",
        tag_name="trial",
        company_external_ids=known + unknown,
        api_version=version,
        max_failed_ratio=0.5,
        **RELAXED,
    ).execute({"ti": RecordingTaskInstance()})
    assert report["added"] == known
    assert report["not_found"] == unknown
    assert len(report["removed"]) == 20
    assert on_trial(intercom_sandbox) == {c.id for c in state.companies.values() if c.company_id in known}
    sent = [
        item
        for entry in intercom_sandbox.requests
        if entry["method"] == "POST" and entry["path"] == "/tags"
        for item in entry["body"]["companies"]
    ]
    assert not [item for item in sent if item.get("company_id") in unknown]  # looked up, never sent
    assert_accounted(report)


def test_company_sync_progress_lines_count_each_phase(intercom_sandbox, trials, caplog, capfd):
    from tests.airflow_runs import airflow_log

    SyncCompanyTagOperator(
        task_id="sync",
        tag_name="trial",
        company_external_ids=["n0", "n1", "n2", *[f"t{n}" for n in range(19)]],
    ).execute({"ti": RecordingTaskInstance()})
    log = airflow_log(capfd, caplog)
    assert "tagged 3/3 companies" in log
    assert "untagged 1/1 companies" in log
    assert "untagged 4/1" not in log


# -- a template that rendered a missing XCom ----------------------------------------------------------------


@pytest.mark.parametrize("rendered", ["None", " None ", "null"])
@pytest.mark.parametrize(
    ("operator_class", "field"),
    [
        (SyncContactTagOperator, "contact_ids"),
        (SyncContactTagOperator, "emails"),
        (TagContactsOperator, "external_ids"),
        (SyncCompanyTagOperator, "company_ids"),
        (UntagCompaniesOperator, "company_external_ids"),
    ],
)
def test_an_id_list_rendered_as_none_is_refused_before_any_request(
    intercom_sandbox, big, operator_class, field, rendered
):
    guards = RELAXED if operator_class in (SyncContactTagOperator, SyncCompanyTagOperator) else {}
    operator = operator_class(task_id="t", tag_name="big", **{field: rendered}, **guards)
    with pytest.raises(IntercomConfigurationError, match=rf"{field}='(None|null)'.*upstream XCom"):
        operator.execute({"ti": RecordingTaskInstance()})
    assert intercom_sandbox.requests == []


def test_an_ids_file_rendered_as_none_is_refused(intercom_sandbox):
    with pytest.raises(IntercomConfigurationError, match=r"ids_file='None'.*upstream XCom"):
        TagContactsOperator(task_id="t", tag_name="big", ids_file="None").execute(
            {"ti": RecordingTaskInstance()}
        )
    assert intercom_sandbox.requests == []


def test_a_sync_templated_from_a_missing_xcom_fails_before_any_request(dag_bag, intercom_sandbox, big):
    dag_run = dag_bag.get_dag("intercom_sync_missing_xcom").test()
    assert dag_run.state == "failed"
    assert intercom_sandbox.requests == []
    assert carrying(intercom_sandbox, "big") == set(big)
    assert ("sync_big", -1) not in xcoms(dag_run.run_id)


# -- the other writing operators, audited for the same mistake ----------------------------------------------


def test_tagging_creates_no_tag_when_nothing_resolved(intercom_sandbox):
    report = TagContactsOperator(
        task_id="t", tag_name="never-used", emails=["nobody@example.com"], max_failed_ratio=1.0
    ).execute({"ti": RecordingTaskInstance()})
    assert report["not_found"] == ["nobody@example.com"]
    assert report["tag"] == {"type": "tag", "id": None, "name": "never-used"}
    assert writes(intercom_sandbox) == []
    assert intercom_sandbox.state.find_tag_by_name("never-used") is None
