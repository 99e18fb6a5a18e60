"""
The sync guards judge the resolved desired set, never the raw input, and refuse before any write.

The case that made this file: a tag carried by 200 contacts, a sync given one email that matches no
contact, and removal guards relaxed. The desired set is empty, so the sync must refuse; counting the
input (one email) it would have stripped the tag from all 200.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomConfigurationError
from airflow_provider_intercom.operators.sync import SyncCompanyTagOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import TagContactsOperator, UntagCompaniesOperator
from tests.airflow_runs import RecordingTaskInstance, xcoms
from tests.sync_helpers import VERSIONS, assert_accounted, carrying, refused, run, writes

RELAXED = {"max_removal_ratio": 1.0, "max_removals": 1000}


@dataclass(frozen=True)
class Population:
    """
    A tag with many members and 10 outsiders without it, for contacts or for companies.

    Contacts and companies are named by a key (an email, a company_id); ``{}`` in each key format below
    is a number.
    """

    operator_class: type
    tag_name: str
    size: int  # how many members carry the tag
    field: str  # the sync's argument that takes keys
    member: str  # the key of each member
    outsider: str  # the key of each of the 10 outsiders
    unknown: str  # a key that matches nothing

    def populate(self, sandbox) -> list[str]:
        """Add the members and the outsiders; clear the request log; return the members' ids."""
        state = sandbox.state
        tag = state.add_tag(self.tag_name)
        members = [self._add(state, self.member.format(n), [tag.id]).id for n in range(self.size)]
        for n in range(10):
            self._add(state, self.outsider.format(n), [])
        state.clear_request_log()
        return members

    def _add(self, state, key: str, tags: list[str]) -> Any:
        if self.operator_class is SyncContactTagOperator:
            return state.add_contact(email=key, tags=tags)
        return state.add_company(company_id=key, name=key.upper(), tags=tags)

    def _by_key(self, state) -> dict[str, Any]:
        if self.operator_class is SyncContactTagOperator:
            return {contact.email: contact for contact in state.live_contacts()}
        return {company.company_id: company for company in state.companies.values()}

    def tagged(self, sandbox) -> set[str]:
        """The ids of those that carry the tag now."""
        tag = sandbox.state.find_tag_by_name(self.tag_name)
        return {record.id for record in self._by_key(sandbox.state).values() if tag.id in record.tags}

    def ids_of(self, sandbox, keys: list[str]) -> set[str]:
        by_key = self._by_key(sandbox.state)
        return {by_key[key].id for key in keys}

    def keys(self, form: str, count: int) -> list[str]:
        return [form.format(n) for n in range(count)]


CONTACTS = Population(
    SyncContactTagOperator, "big", 200, "emails", "m{}@example.com", "k{}@example.com", "gone{}@example.com"
)
COMPANIES = Population(SyncCompanyTagOperator, "trial", 20, "company_external_ids", "t{}", "n{}", "gone{}")
POPULATIONS = pytest.mark.parametrize("population", [CONTACTS, COMPANIES], ids=["contacts", "companies"])


@pytest.fixture
def members(intercom_sandbox, population: Population) -> list[str]:
    """The parametrized population, added to the sandbox; returns the members' ids."""
    return population.populate(intercom_sandbox)


@pytest.fixture
def big(intercom_sandbox) -> list[str]:
    """200 contacts carrying the tag "big", and 10 more (k0..k9@example.com) without it."""
    return CONTACTS.populate(intercom_sandbox)


@pytest.fixture
def trials(intercom_sandbox) -> list[str]:
    """20 companies (t0..t19) carrying "trial", and 10 more (n0..n9) without it; returns the members' ids."""
    return COMPANIES.populate(intercom_sandbox)


GHOST_CONTACTS = [f"65ffffffffffffffffff{n:04d}" for n in range(3)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("max_failed_ratio", [0.0, 1.0])
@pytest.mark.parametrize(
    ("population", "given", "not_found"),
    [
        pytest.param(
            CONTACTS, {"emails": ["nobody-at-all@x.com"]}, ["nobody-at-all@x.com"], id="contact-emails"
        ),
        pytest.param(CONTACTS, {"contact_ids": GHOST_CONTACTS}, GHOST_CONTACTS, id="contact-ids"),
        pytest.param(
            COMPANIES,
            {"company_external_ids": ["no-such-company"], "company_ids": ["65bfffffffffffffffff0000"]},
            ["65bfffffffffffffffff0000", "no-such-company"],
            id="companies",
        ),
    ],
)
def test_keys_that_all_resolve_to_nothing_are_an_empty_desired_set(
    intercom_sandbox, population, members, given, not_found, version, max_failed_ratio
):
    error, plan = refused(
        population.operator_class,
        tag_name=population.tag_name,
        **given,
        api_version=version,
        max_failed_ratio=max_failed_ratio,
        **RELAXED,
    )
    given_count = sum(len(keys) for keys in given.values())
    assert f"desired set is empty ({given_count} given, none of which resolved)" in str(error)
    assert "allow_empty=True" in str(error)
    assert writes(intercom_sandbox) == []
    assert population.tagged(intercom_sandbox) == set(members)
    assert plan["plan"] == {"add": 0, "remove": population.size}
    assert plan["not_found"] == not_found
    assert_accounted(plan)


def test_allow_empty_still_lets_a_meant_empty_sync_through(intercom_sandbox, big):
    report, _ = run(
        SyncContactTagOperator,
        tag_name="big",
        emails=["nobody-at-all@x.com"],
        allow_empty=True,
        max_failed_ratio=1.0,
        **RELAXED,
    )
    assert carrying(intercom_sandbox, "big") == set()
    assert len(report["removed"]) == 200
    assert report["not_found"] == ["nobody-at-all@x.com"]


@pytest.mark.parametrize("version", VERSIONS)
@POPULATIONS
def test_sixty_percent_unknown_is_refused_before_any_write(intercom_sandbox, population, members, version):
    keys = population.keys(population.outsider, 4) + population.keys(population.unknown, 6)
    error, plan = refused(
        population.operator_class,
        tag_name=population.tag_name,
        **{population.field: keys},
        api_version=version,
        max_failed_ratio=0.5,
        **RELAXED,
    )
    assert "6 of 10 desired items (60%) resolve to nothing, more than max_failed_ratio=0.5" in str(error)
    assert "raise max_failed_ratio to at least 0.60" in str(error)
    assert writes(intercom_sandbox) == []
    assert population.tagged(intercom_sandbox) == set(members)
    assert plan["plan"] == {"add": 4, "remove": population.size}


@pytest.mark.parametrize("version", VERSIONS)
@POPULATIONS
def test_forty_percent_unknown_proceeds_and_reports_them(intercom_sandbox, population, members, version):
    known = population.keys(population.outsider, 6)
    unknown = population.keys(population.unknown, 4)
    report, _ = run(
        population.operator_class,
        tag_name=population.tag_name,
        **{population.field: known + unknown},
        api_version=version,
        max_failed_ratio=0.5,
        **RELAXED,
    )
    assert report["added"] == known
    assert report["not_found"] == unknown
    assert len(report["removed"]) == population.size
    assert population.tagged(intercom_sandbox) == population.ids_of(intercom_sandbox, known)
    sent = [json.dumps(entry["body"]) for entry in writes(intercom_sandbox)]
    assert not [key for key in unknown if any(key in body for body in sent)]  # looked up, never sent
    assert_accounted(report)


def test_unknown_contact_ids_are_looked_up_only_when_a_guard_hangs_on_them(intercom_sandbox, big):
    # Every guard holds even if the new id is unknown: no look-up, the bulk call reports it.
    newcomer = next(c.id for c in intercom_sandbox.state.live_contacts() if c.email == "k0@example.com")
    relaxed = {"tag_name": "big", "contact_ids": [*big, newcomer], "max_failed_ratio": 1.0}
    report, _ = run(SyncContactTagOperator, **relaxed)
    searches = [
        entry["body"]["query"] for entry in intercom_sandbox.requests if entry["path"] == "/contacts/search"
    ]
    assert all(query["field"] == "tag_id" for query in searches)
    assert report["added"] == [newcomer]
    # With the default max_failed_ratio=0 the answer matters, and one id IN search gives it.
    intercom_sandbox.state.clear_request_log()
    ghost = "65ffffffffffffffffff0000"
    refused(
        SyncContactTagOperator,
        match="1 of 202 desired items",
        tag_name="big",
        contact_ids=[*big, newcomer, ghost],
    )
    searches = [
        entry["body"]["query"] for entry in intercom_sandbox.requests if entry["path"] == "/contacts/search"
    ]
    assert {"field": "id", "operator": "IN", "value": [ghost]} in searches
    assert writes(intercom_sandbox) == []


# -- companies ----------------------------------------------------------------------------------------------


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
