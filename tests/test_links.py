"""
The "Intercom tag" extra link: which operators carry it, the URL each region gets, and that a task
records it (one GET /me) without ever changing its outcome or its report.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_intercom.get_provider_info import get_provider_info
from airflow_provider_intercom.links.tags import TAG_LINK_XCOM_KEY, IntercomTagLink
from airflow_provider_intercom.operators.sync import SyncCompanyTagOperator, SyncContactTagOperator
from airflow_provider_intercom.operators.tags import (
    CreateTagOperator,
    DeleteTagOperator,
    ListTagsOperator,
    TagCompaniesOperator,
    TagContactsOperator,
    TagConversationsOperator,
    TagTicketsOperator,
    UntagCompaniesOperator,
    UntagContactsOperator,
)
from tests.airflow_runs import RecordingTaskInstance, airflow_log, xcoms

# Written out, not read from the hook, so that a wrong mapping there fails here.
APP_HOSTS = {
    "us": "https://app.intercom.com",
    "eu": "https://app.eu.intercom.com",
    "au": "https://app.au.intercom.com",
}
SANDBOX_APP_ID = "sandbox1"  # the app.id_code the sandbox's GET /me answers


def expected_url(region: str, tag_id: str) -> str:
    return f"{APP_HOSTS[region]}/a/apps/{SANDBOX_APP_ID}/users/segments/all-users?tag_id={tag_id}"


def use_region(monkeypatch, sandbox, region: str) -> None:
    """Point intercom_default at the sandbox (host override) with ``region`` in its extra."""
    connection = sandbox.airflow_connection()
    connection["extra"]["region"] = region
    monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps(connection))


def me_calls(sandbox) -> int:
    return sum(entry["path"] == "/me" for entry in sandbox.requests)


def run(operator) -> tuple[Any, RecordingTaskInstance]:
    ti = RecordingTaskInstance()
    return operator.execute({"ti": ti}), ti


# -- which operators carry it -----------------------------------------------------------------------


def _tag_contacts(state, tag):
    contact = state.add_contact(email="a@example.com", role="user")
    return TagContactsOperator(task_id="t", tag_name=tag.name, contact_ids=[contact.id])


def _untag_contacts(state, tag):
    contact = state.add_contact(email="a@example.com", role="user", tags=[tag.id])
    return UntagContactsOperator(task_id="t", tag_id=tag.id, contact_ids=[contact.id])


def _tag_companies(state, tag):
    state.add_company(company_id="acme", name="Acme")
    return TagCompaniesOperator(task_id="t", tag_name=tag.name, company_external_ids=["acme"])


def _untag_companies(state, tag):
    state.add_company(company_id="acme", name="Acme", tags=[tag.id])
    return UntagCompaniesOperator(task_id="t", tag_name=tag.name, company_external_ids=["acme"])


def _tag_conversations(state, tag):
    state.add_conversation(id="1001")
    admin = state.primary_admin()
    return TagConversationsOperator(task_id="t", tag_id=tag.id, conversation_ids=["1001"], admin_id=admin.id)


def _tag_tickets(state, tag):
    state.add_ticket(id="2001")
    admin = state.primary_admin()
    return TagTicketsOperator(task_id="t", tag_id=tag.id, ticket_ids=["2001"], admin_id=admin.id)


def _sync_contacts(state, tag):
    contact = state.add_contact(email="a@example.com", role="user")
    return SyncContactTagOperator(task_id="t", tag_name=tag.name, contact_ids=[contact.id])


def _sync_companies(state, tag):
    state.add_company(company_id="acme", name="Acme")
    return SyncCompanyTagOperator(task_id="t", tag_name=tag.name, company_external_ids=["acme"])


def _create_tag(state, tag):
    return CreateTagOperator(task_id="t", tag_name=tag.name)


LINKED = {
    TagContactsOperator: _tag_contacts,
    UntagContactsOperator: _untag_contacts,
    TagCompaniesOperator: _tag_companies,
    UntagCompaniesOperator: _untag_companies,
    TagConversationsOperator: _tag_conversations,
    TagTicketsOperator: _tag_tickets,
    SyncContactTagOperator: _sync_contacts,
    SyncCompanyTagOperator: _sync_companies,
    CreateTagOperator: _create_tag,
}


@pytest.mark.parametrize("operator_class", list(LINKED), ids=lambda cls: cls.__name__)
def test_each_tag_operator_carries_the_link_and_records_it(intercom_sandbox, operator_class):
    state = intercom_sandbox.state
    tag = state.add_tag("vip")
    operator = LINKED[operator_class](state, tag)
    assert [type(link) for link in operator.operator_extra_links] == [IntercomTagLink]
    assert [link.name for link in operator.operator_extra_links] == ["Intercom tag"]
    operator.hook.api_version = "2.11"  # tickets need 2.10 or later; the sandbox default is 2.11
    _, ti = run(operator)
    assert ti.pushed[TAG_LINK_XCOM_KEY] == expected_url("us", tag.id)
    assert me_calls(intercom_sandbox) == 1


@pytest.mark.parametrize("operator_class", [ListTagsOperator, DeleteTagOperator], ids=lambda c: c.__name__)
def test_operators_without_one_tag_to_show_have_no_link(operator_class):
    # A list of tags has no one tag to open, and a deleted tag has no contacts left to show.
    assert list(operator_class(task_id="t").operator_extra_links) == []


def test_the_link_is_registered_in_the_provider_info():
    import importlib

    (class_path,) = get_provider_info()["extra-links"]
    module, _, name = class_path.rpartition(".")
    assert getattr(importlib.import_module(module), name) is IntercomTagLink


# -- the URL, per region ------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["us", "eu", "au"])
def test_the_url_follows_the_connection_region(intercom_sandbox, monkeypatch, region):
    use_region(monkeypatch, intercom_sandbox, region)
    state = intercom_sandbox.state
    tag = state.add_tag("churn-risk")
    contact = state.add_contact(email="a@example.com", role="user")
    report, ti = run(TagContactsOperator(task_id="t", tag_name="churn-risk", contact_ids=[contact.id]))
    assert report["succeeded"] == [contact.id]
    assert ti.pushed == {TAG_LINK_XCOM_KEY: expected_url(region, tag.id)}
    assert me_calls(intercom_sandbox) == 1  # one GET /me per task


def test_an_operator_region_overrides_the_connection_region(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("vip")
    _, ti = run(CreateTagOperator(task_id="t", tag_name="vip", region="au"))
    assert ti.pushed == {TAG_LINK_XCOM_KEY: expected_url("au", tag.id)}


# -- dry runs ------------------------------------------------------------------------------------------


def test_a_dry_run_records_the_link_when_the_tag_exists(intercom_sandbox):
    state = intercom_sandbox.state
    tag = state.add_tag("vip")
    contact = state.add_contact(email="a@example.com", role="user")
    report, ti = run(TagContactsOperator(task_id="t", tag_name="vip", contact_ids=[contact.id], dry_run=True))
    assert report["dry_run"] is True
    assert ti.pushed == {TAG_LINK_XCOM_KEY: expected_url("us", tag.id)}
    assert tag.id not in state.contacts[contact.id].tags


def test_a_dry_run_of_a_missing_tag_records_no_link_and_skips_get_me(intercom_sandbox):
    contact = intercom_sandbox.state.add_contact(email="a@example.com", role="user")
    report, ti = run(TagContactsOperator(task_id="t", tag_name="new", contact_ids=[contact.id], dry_run=True))
    assert report["tag"]["id"] is None
    assert ti.pushed == {}
    assert me_calls(intercom_sandbox) == 0


# -- a failing GET /me changes nothing ---------------------------------------------------------------------


def test_a_get_me_failure_only_logs_a_warning(intercom_sandbox, capfd, caplog):
    state = intercom_sandbox.state
    state.add_tag("vip")
    known = state.add_contact(email="a@example.com", role="user").id
    arguments = {"task_id": "t", "tag_name": "vip", "contact_ids": [known, "ghost"], "max_failed_ratio": 0.5}

    failing = TagContactsOperator(**arguments)
    failing.hook.max_retries = 0  # one refused GET /me is enough; retries would only wait
    intercom_sandbox.inject("503", path="/me")
    report_without_link, ti_without_link = run(failing)
    assert [entry["status"] for entry in intercom_sandbox.requests if entry["path"] == "/me"] == [503]
    assert ti_without_link.pushed == {}
    assert "No 'Intercom tag' link for this task" in airflow_log(capfd, caplog)

    # The same task again, with GET /me answering: the report is the same, and only the link is added.
    report_with_link, ti_with_link = run(TagContactsOperator(**arguments))
    assert report_without_link == report_with_link
    assert report_with_link["succeeded"] == [known]
    assert report_with_link["not_found"] == ["ghost"]
    assert list(ti_with_link.pushed) == [TAG_LINK_XCOM_KEY]


def test_a_get_me_failure_leaves_a_partial_failure_as_it_was(intercom_sandbox):
    from airflow_provider_intercom.exceptions import IntercomPartialFailureError

    state = intercom_sandbox.state
    state.add_tag("vip")
    known = state.add_contact(email="a@example.com", role="user").id
    operator = TagContactsOperator(task_id="t", tag_name="vip", contact_ids=[known, "ghost"])
    operator.hook.max_retries = 0
    intercom_sandbox.inject("503", path="/me")
    ti = RecordingTaskInstance()
    with pytest.raises(IntercomPartialFailureError) as caught:
        operator.execute({"ti": ti})
    assert ti.pushed == {"return_value": caught.value.report}
    assert caught.value.report["succeeded"] == [known]
    assert caught.value.report["not_found"] == ["ghost"]


def test_get_me_for_the_link_is_tried_once_whatever_the_hook_retries(intercom_sandbox, capfd, caplog):
    state = intercom_sandbox.state
    state.add_tag("vip")
    known = state.add_contact(email="a@example.com", role="user").id
    operator = TagContactsOperator(task_id="t", tag_name="vip", contact_ids=[known])
    assert operator.hook.max_retries > 0  # the writes keep their retries
    intercom_sandbox.inject("503", path="/me")
    report, ti = run(operator)
    assert report["succeeded"] == [known]
    assert [entry["status"] for entry in intercom_sandbox.requests if entry["path"] == "/me"] == [503]
    assert ti.pushed == {}
    assert "No 'Intercom tag' link for this task" in airflow_log(capfd, caplog)


def test_a_hanging_get_me_costs_its_short_timeout_not_the_hooks(intercom_sandbox, monkeypatch, capfd, caplog):
    from airflow_provider_intercom.hooks import intercom

    monkeypatch.setattr(intercom, "APP_ID_TIMEOUT", (1.0, 0.5))  # the test waits half a second, not five
    state = intercom_sandbox.state
    state.add_tag("vip")
    known = state.add_contact(email="a@example.com", role="user").id
    intercom_sandbox.inject(("delay", 3000), path="/me")  # longer than the short timeout, shorter than 60 s
    report, ti = run(TagContactsOperator(task_id="t", tag_name="vip", contact_ids=[known]))
    assert report["succeeded"] == [known]
    assert ti.pushed == {}
    assert "timed out" in airflow_log(capfd, caplog).lower()


def test_the_app_id_extra_spares_get_me(intercom_sandbox, monkeypatch):
    connection = intercom_sandbox.airflow_connection()
    connection["extra"]["app_id"] = "x1y2z3"
    monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps(connection))
    tag = intercom_sandbox.state.add_tag("vip")
    known = intercom_sandbox.state.add_contact(email="a@example.com", role="user").id
    _, ti = run(TagContactsOperator(task_id="t", tag_name="vip", contact_ids=[known]))
    assert me_calls(intercom_sandbox) == 0
    assert ti.pushed[TAG_LINK_XCOM_KEY] == expected_url("us", tag.id).replace("sandbox1", "x1y2z3")


# -- inside a real DAG run ------------------------------------------------------------------------------


def test_get_link_returns_the_recorded_url_after_a_dag_run(dag_bag, intercom_sandbox):
    from importlib.metadata import version

    from packaging.version import Version

    state = intercom_sandbox.state
    tag = state.add_tag("vip")
    for email in ("alice@example.com", "bob@example.com"):
        state.add_contact(email=email, role="user")
    dag = dag_bag.get_dag("intercom_tag_link")
    dag_run = dag.test()
    assert dag_run.state == "success"
    url = expected_url("eu", tag.id)  # the task sets region="eu"
    assert xcoms(dag_run.run_id, TAG_LINK_XCOM_KEY) == {("tag_vip", -1): url}
    assert xcoms(dag_run.run_id)[("tag_vip", -1)]["succeeded"] == ["alice@example.com", "bob@example.com"]
    if Version(version("apache-airflow")) >= Version("3"):
        # Airflow 3 calls get_link on the worker as the task ends and stores what it returns, for the UI.
        assert xcoms(dag_run.run_id, "_link_IntercomTagLink") == {("tag_vip", -1): url}
    else:
        # Airflow 2.11's webserver calls get_link with the task instance's key; XCom is in the DB.
        ti = dag_run.get_task_instance("tag_vip")
        assert IntercomTagLink().get_link(dag.get_task("tag_vip"), ti_key=ti.key) == url
