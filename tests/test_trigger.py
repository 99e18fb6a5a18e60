"""IntercomTagTrigger on its own event loop (``asyncio.run``), against the sandbox."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from airflow_provider_intercom.triggers.tags import IntercomTagTrigger
from tests.airflow_runs import airflow_log

NO_RETRIES = {"max_retries": 0}


def trigger(**kwargs: Any) -> IntercomTagTrigger:
    return IntercomTagTrigger(**{"poke_interval": 0.05, "hook_params": NO_RETRIES, **kwargs})


async def collect(trigger: IntercomTagTrigger) -> list[dict[str, Any]]:
    """Every event the trigger yields, in order; bounded so a trigger that never ends fails the test."""

    async def events() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(events(), timeout=10)


def run(trigger: IntercomTagTrigger) -> list[dict[str, Any]]:
    return asyncio.run(collect(trigger))


def statuses(sandbox) -> list[int | None]:
    return [entry["status"] for entry in sandbox.requests]


def test_success_event_carries_the_tag(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("churn-risk")
    contact = intercom_sandbox.state.add_contact(email="a@example.com", tags=[tag.id])
    events = run(trigger(tag_name="CHURN-RISK", contact_id=contact.id, min_tagged_contacts=1))
    assert events == [
        {
            "status": "success",
            "tag": {"type": "tag", "id": tag.id, "name": "churn-risk", "tagged_contacts": 1},
        }
    ]


def test_serialize_round_trips():
    original = IntercomTagTrigger(
        tag_id="104",
        contact_id="65a000000000000000000001",
        min_tagged_contacts=5,
        poke_interval=12.5,
        deadline=1_900_000_000.25,
        intercom_conn_id="intercom_eu",
        api_version="2.16",
        region="eu",
        hook_params={"max_retries": 2, "backoff_base": 0.1},
    )
    classpath, kwargs = original.serialize()
    assert classpath == "airflow_provider_intercom.triggers.tags.IntercomTagTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain JSON
    rebuilt = IntercomTagTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "tag_name": None,
        "tag_id": "104",
        "contact_id": "65a000000000000000000001",
        "min_tagged_contacts": 5,
        "poke_interval": 12.5,
        "deadline": 1_900_000_000.25,
        "intercom_conn_id": "intercom_eu",
        "api_version": "2.16",
        "region": "eu",
        "hook_params": {"max_retries": 2, "backoff_base": 0.1},
    }


def test_polls_until_the_condition_holds(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("churn-risk")

    async def scenario() -> list[dict[str, Any]]:
        polling = asyncio.create_task(collect(trigger(tag_id=tag.id, min_tagged_contacts=2)))
        await asyncio.sleep(0.3)
        assert not polling.done()  # 0 of 2 contacts: still polling
        for n in range(2):
            intercom_sandbox.state.add_contact(email=f"p{n}@example.com", tags=[tag.id])
        return await polling

    events = asyncio.run(scenario())
    assert events == [
        {
            "status": "success",
            "tag": {"type": "tag", "id": tag.id, "name": "churn-risk", "tagged_contacts": 2},
        }
    ]
    searches = [entry for entry in intercom_sandbox.requests if entry["path"] == "/contacts/search"]
    assert len(searches) >= 3


def test_timeout_event_at_the_deadline(intercom_sandbox):
    started = time.monotonic()
    events = run(trigger(tag_name="never", poke_interval=0.1, deadline=time.time() + 0.5))
    elapsed = time.monotonic() - started
    assert events == [
        {"status": "timeout", "message": "Gave up waiting for tag 'never': the sensor's timeout has passed"}
    ]
    assert 0.5 <= elapsed < 2
    assert 3 <= len(intercom_sandbox.requests) <= 8  # about one poll per 0.1 s, one at the deadline


def test_a_passed_deadline_still_checks_once(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("vip")
    assert run(trigger(tag_name="vip", deadline=time.time() - 60)) == [
        {"status": "success", "tag": {"type": "tag", "id": tag.id, "name": "vip"}}
    ]
    assert run(trigger(tag_name="gone", deadline=time.time() - 60))[0]["status"] == "timeout"


def test_unauthorized_yields_an_error_event_at_once(intercom_sandbox, monkeypatch):
    connection = {**intercom_sandbox.airflow_connection(), "password": "wrong-token"}
    monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_WRONG", json.dumps(connection))
    events = run(trigger(tag_name="churn-risk", intercom_conn_id="intercom_wrong"))
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert events[0]["message"].startswith(
        "IntercomUnauthorizedError: 401 unauthorized: Access Token Invalid (GET /tags"
    )
    assert "wrong-token" not in events[0]["message"]
    assert statuses(intercom_sandbox) == [401]


def test_bad_arguments_yield_an_error_event_before_any_request(intercom_sandbox):
    for kwargs, message in (
        ({}, "IntercomConfigurationError: Give exactly one of tag_name and tag_id (got neither)"),
        ({"tag_name": "a", "min_tagged_contacts": -2}, "IntercomConfigurationError: min_tagged_contacts=-2"),
        ({"tag_name": "a", "region": "mars"}, "IntercomConfigurationError: region='mars'"),
        ({"tag_name": "a", "hook_params": {"retries": 1}}, "TypeError: "),
    ):
        events = run(trigger(**kwargs))
        assert [event["status"] for event in events] == ["error"]
        assert events[0]["message"].startswith(message)
    assert intercom_sandbox.requests == []


def test_transient_errors_are_logged_and_polling_goes_on(intercom_sandbox, capfd, caplog):
    tag = intercom_sandbox.state.add_tag("churn-risk")
    intercom_sandbox.inject("500", "503", "html200")
    events = run(trigger(tag_name="churn-risk"))
    assert events == [{"status": "success", "tag": {"type": "tag", "id": tag.id, "name": "churn-risk"}}]
    assert statuses(intercom_sandbox) == [500, 503, 200, 200]  # the hook does not retry: the trigger does
    assert airflow_log(capfd, caplog).count("Intercom did not answer for tag 'churn-risk'") == 3


def test_the_event_loop_keeps_running_while_the_hook_waits(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("churn-risk")
    intercom_sandbox.state.add_contact(email="a@example.com", tags=[tag.id])
    intercom_sandbox.latency_ms = 300  # every answer takes 0.3 s

    async def scenario() -> tuple[list[dict[str, Any]], list[float]]:
        ticks: list[float] = []
        polling = asyncio.create_task(collect(trigger(tag_name="churn-risk", min_tagged_contacts=1)))
        while not polling.done():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)
        return await polling, ticks

    events, ticks = asyncio.run(scenario())
    assert events[0]["status"] == "success"
    assert len(intercom_sandbox.requests) == 2  # GET /tags, then the count: 0.6 s of waiting on HTTP
    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) >= 30
    assert max(gaps) < 0.25  # a blocked loop would stall the ticker for a whole 0.3 s answer


def test_forbidden_yields_an_error_event(monkeypatch):
    from airflow_provider_intercom.exceptions import IntercomForbiddenError
    from airflow_provider_intercom.triggers import tags

    class ForbiddenHook:  # the sandbox has no 403 on GET /tags
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def find_tag_by_name(self, name: str) -> None:
            raise IntercomForbiddenError(
                403, "forbidden", "Token lacks read_tags", method="GET", path="/tags"
            )

    monkeypatch.setattr(tags, "make_hook", ForbiddenHook)
    assert run(trigger(tag_name="churn-risk")) == [
        {
            "status": "error",
            "message": "IntercomForbiddenError: 403 forbidden: Token lacks read_tags (GET /tags)",
        }
    ]


IMPORT_ON_THE_LOOP = """
import sys
import airflow.triggers.base  # the triggerer has it already (on Airflow 2 it brings requests too)
before = set(sys.modules)
import airflow_provider_intercom.triggers.tags
heavy = ("requests", "tenacity", "airflow_provider_intercom.hooks.intercom")
print(sorted(name for name in heavy if name in set(sys.modules) - before))
"""


def test_the_triggerer_imports_the_trigger_without_the_hook_or_requests():
    """The triggerer imports a trigger's module on its event loop: nothing heavy may come with it."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ON_THE_LOOP], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
