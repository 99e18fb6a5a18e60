"""
Bad input, the full list: every case fails with a clear error before any request reaches Intercom.

Each row names what is called, the exception expected, and a pattern the message must match: the
field's name and what is allowed. The sandbox's request log proves nothing was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomConfigurationError
from airflow_provider_intercom.hooks.intercom import IntercomHook
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
from airflow_provider_intercom.sensors.tags import IntercomTagSensor


class RecordingTaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:
        raise AssertionError("nothing may be pushed for refused input")


def execute(operator_class, **kwargs: Any) -> Callable[[], Any]:
    return lambda: operator_class(task_id="t", **kwargs).execute({"ti": RecordingTaskInstance()})


def poke(**kwargs: Any) -> Callable[[], Any]:
    return lambda: IntercomTagSensor(task_id="s", **kwargs).poke({})


def hook_call(call: Callable[[IntercomHook], Any], **kwargs: Any) -> Callable[[], Any]:
    return lambda: call(IntercomHook(**kwargs))


def render_then_execute(operator_class, field: str, template: str, **kwargs: Any) -> Callable[[], Any]:
    """Render a templated field with Airflow's native renderer, then run the task."""

    def run() -> Any:
        import pendulum
        from airflow.providers.common.compat.sdk import DAG

        with DAG(
            "render",
            schedule=None,
            start_date=pendulum.datetime(2026, 1, 1),
            render_template_as_native_obj=True,
        ):
            operator = operator_class(task_id="t", **{field: template}, **kwargs)
        operator.render_template_fields({"params": {"ids": {"not": "a list"}}})
        return operator.execute({"ti": RecordingTaskInstance()})

    return run


IDS = ["65a000000000000000000001"]
CASES: list[tuple[str, Callable[[], Any], str]] = [
    # the tag: exactly one of tag_name and tag_id, non-blank, not absurdly long
    (
        "both tag_name and tag_id",
        execute(TagContactsOperator, tag_name="a", tag_id="1", contact_ids=IDS),
        "got both",
    ),
    ("neither tag_name nor tag_id", execute(UntagContactsOperator, contact_ids=IDS), "got neither"),
    ("blank tag_name", execute(TagCompaniesOperator, tag_name="  ", company_ids=IDS), "tag_name='  '"),
    ("tag_name too long", execute(TagContactsOperator, tag_name="x" * 300, emails=["a@b.c"]), "at most 255"),
    ("blank tag_name on the hook", hook_call(lambda h: h.create_or_update_tag("")), "tag_name=''"),
    ("tag_id of the wrong type", execute(DeleteTagOperator, tag_id=["1"]), r"tag_id=\['1'\]"),
    # ids: wrong types, blank, whitespace-only, not a list
    (
        "None among contact_ids",
        execute(TagContactsOperator, tag_name="a", contact_ids=["1", None]),
        r"contact_ids\[1\]=None",
    ),
    ("a float id", execute(UntagContactsOperator, tag_name="a", contact_ids=[1.5]), r"contact_ids\[0\]=1.5"),
    ("a bool email", execute(TagContactsOperator, tag_name="a", emails=[False]), r"emails\[0\]=False"),
    (
        "blank external id",
        execute(TagContactsOperator, tag_name="a", external_ids=[""]),
        r"external_ids\[0\]=''",
    ),
    (
        "whitespace-only id",
        execute(UntagContactsOperator, tag_name="a", contact_ids=["  \t"]),
        r"contact_ids\[0\]=",
    ),
    (
        "a dict instead of a list",
        execute(TagContactsOperator, tag_name="a", contact_ids={"id": "1"}),
        "must be a list",
    ),
    ("bad JSON list", execute(TagContactsOperator, tag_name="a", contact_ids="[1,"), "not a valid JSON list"),
    (
        "blank company id",
        execute(UntagCompaniesOperator, tag_name="trial", company_ids=[" "]),
        r"company_ids\[0\]",
    ),
    (
        "conversation id of a wrong type",
        execute(TagConversationsOperator, tag_name="a", admin_id="1", conversation_ids=[{}]),
        r"conversation_ids\[0\]",
    ),
    ("blank contact id on the hook", hook_call(lambda h: h.tag_contact(" ", "1")), "contact_id=' '"),
    ("a bad company item", hook_call(lambda h: h.tag_companies("a", [{"name": "x"}])), r"companies\[0\]"),
    # warehouse rows and ids_file
    (
        "multi-column SQL rows",
        execute(TagContactsOperator, tag_name="a", contact_ids=[("1", "a@b.c")]),
        r"contact_ids\[0\]=.* holds 2 values.*Select only the id column",
    ),
    (
        "dict rows without id_key",
        execute(TagCompaniesOperator, tag_name="a", company_ids=[{"id": "1"}]),
        r"company_ids\[0\] is a row with named columns \('id'\): set id_key",
    ),
    (
        "tuple rows with id_key",
        execute(TagTicketsOperator, tag_name="a", admin_id="1", ticket_ids=[("1", "x")], id_key="id"),
        r"ticket_ids\[0\]=.* no column names, so id_key='id' cannot pick one",
    ),
    (
        "ids_file that does not exist",
        execute(TagConversationsOperator, tag_name="a", admin_id="1", ids_file="/nonexistent/ids.txt"),
        "ids_file '/nonexistent/ids.txt' cannot be read",
    ),
    (
        "ids_file_field not an id list of the operator",
        execute(UntagCompaniesOperator, tag_name="a", ids_file="ids.txt", ids_file_field="emails"),
        "ids_file_field='emails' must be one of: company_ids, company_external_ids",
    ),
    # empty input
    (
        "empty contact lists",
        execute(TagContactsOperator, tag_name="a", contact_ids=[], emails=[]),
        "all empty",
    ),
    ("empty company lists", execute(TagCompaniesOperator, tag_name="a", company_ids=[]), "both empty"),
    (
        "empty ticket ids",
        execute(TagTicketsOperator, tag_name="a", admin_id="1", ticket_ids=[]),
        "ticket_ids is empty",
    ),
    # limits
    (
        "more than max_items",
        execute(TagContactsOperator, tag_name="a", contact_ids=[str(n) for n in range(10_001)]),
        "10001 items, more than max_items=10000",
    ),
    (
        "batch_size 0",
        execute(TagContactsOperator, tag_name="a", contact_ids=IDS, batch_size=0),
        "batch_size=0 must be an integer from 1 to 50",
    ),
    (
        "batch_size 51",
        execute(UntagCompaniesOperator, tag_name="a", company_ids=IDS, batch_size=51),
        "batch_size=51 must be an integer from 1 to 50",
    ),
    (
        "max_workers 0",
        execute(UntagContactsOperator, tag_name="a", contact_ids=IDS, max_workers=0),
        "max_workers=0 must be an integer from 1 to 32",
    ),
    (
        "max_workers 33",
        execute(TagConversationsOperator, tag_name="a", admin_id="1", conversation_ids=["1"], max_workers=33),
        "max_workers=33 must be an integer from 1 to 32",
    ),
    (
        "max_failed_ratio above 1",
        execute(TagContactsOperator, tag_name="a", contact_ids=IDS, max_failed_ratio=1.5),
        "max_failed_ratio=1.5 must be a number from 0.0 to 1.0",
    ),
    (
        "max_failed_ratio below 0",
        execute(UntagContactsOperator, tag_name="a", contact_ids=IDS, max_failed_ratio=-0.1),
        "max_failed_ratio=-0.1",
    ),
    (
        "dry_run not a boolean",
        execute(TagContactsOperator, tag_name="a", contact_ids=IDS, dry_run="sometimes"),
        "dry_run='sometimes' must be True or False",
    ),
    (
        "per_page above 150",
        hook_call(
            lambda h: list(
                h.search_contacts({"field": "role", "operator": "=", "value": "user"}, per_page=151)
            )
        ),
        "per_page=151 must be an integer from 1 to 150",
    ),
    # admin_id for conversations and tickets
    (
        "admin_id missing",
        execute(TagConversationsOperator, tag_name="a", conversation_ids=["1"]),
        "admin_id=None must be a non-empty admin id",
    ),
    (
        "admin_id blank",
        execute(TagTicketsOperator, tag_name="a", admin_id=" ", ticket_ids=["1"]),
        "admin_id=' '",
    ),
    # the connection: region, version, host, token
    (
        "unknown region",
        execute(TagContactsOperator, tag_name="a", contact_ids=IDS, region="mars"),
        "region='mars' is not an Intercom region; use one of: us, eu, au",
    ),
    ("version 1.x", execute(ListTagsOperator, api_version="1.4"), "1.x is Intercom's legacy users API"),
    (
        "version 3.0",
        execute(CreateTagOperator, tag_name="a", api_version="3.0"),
        "'3.0' is not a known Intercom API version; use one of: 2.0",
    ),
    (
        "version latest",
        poke(tag_name="a", api_version="latest"),
        "'latest' is not a known Intercom API version",
    ),
    (
        "version as a number",
        hook_call(lambda h: h.list_tags(), api_version=2.1),
        'must be a string such as "2.11"',
    ),
    (
        "tickets before 2.10",
        execute(TagTicketsOperator, tag_name="a", admin_id="1", ticket_ids=["1"], api_version="2.9"),
        "ticket tagging needs Intercom API 2.10 or later",
    ),
    # the sensor
    ("sensor: negative count", poke(tag_name="a", min_tagged_contacts=-1), "min_tagged_contacts"),
    ("sensor: both tag_name and tag_id", poke(tag_name="a", tag_id="1"), "got both"),
    # a templated field that renders to the wrong type
    (
        "template renders a dict",
        render_then_execute(TagContactsOperator, "contact_ids", "{{ params.ids }}", tag_name="a"),
        "contact_ids=.*must be a list of ids",
    ),
    (
        "template renders a bad dry_run",
        render_then_execute(UntagContactsOperator, "dry_run", "{{ 42 }}", tag_name="a", contact_ids=IDS),
        "dry_run=42 must be True or False",
    ),
]


@pytest.mark.parametrize(("call", "pattern"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_before_any_request(intercom_sandbox, call, pattern):
    with pytest.raises(IntercomConfigurationError, match=pattern):
        call()
    assert intercom_sandbox.requests == []


@pytest.mark.parametrize(
    ("connection", "pattern"),
    [
        (
            {"conn_type": "intercom", "host": "ftp://files.example.com", "password": "tok-123456"},
            "host='ftp://",
        ),
        ({"conn_type": "intercom"}, "has no access token: put it in the password field"),
        ({"conn_type": "intercom", "password": "   "}, "has no access token"),
        (
            {"conn_type": "intercom", "password": "tok-123456", "extra": {"api_version": "2.10x"}},
            "extra 'api_version'",
        ),
    ],
    ids=["host not http(s)", "no password", "blank password", "bad version in the extra"],
)
def test_bad_connection_is_refused_before_any_request(intercom_sandbox, monkeypatch, connection, pattern):
    monkeypatch.setenv("AIRFLOW_CONN_BAD", json.dumps(connection))
    with pytest.raises(IntercomConfigurationError, match=pattern):
        execute(TagContactsOperator, tag_name="a", contact_ids=IDS, intercom_conn_id="bad")()
    assert intercom_sandbox.requests == []


def test_the_table_is_long_enough():
    assert len(CASES) >= 30


def test_duplicates_are_dropped_not_refused(intercom_sandbox):
    # Duplicates are normal in warehouse exports: they are deduplicated and counted once.
    report = execute(TagContactsOperator, tag_name="a", contact_ids=["x", "x", " x "], dry_run=True)()
    assert report["requested"] == 1
