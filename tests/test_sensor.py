"""IntercomTagSensor against the sandbox: poke() outcomes, deferral, and real DAG runs in each mode."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_intercom.exceptions import (
    IntercomBadRequestError,
    IntercomConfigurationError,
    IntercomError,
    IntercomForbiddenError,
    IntercomInvalidResponseError,
    IntercomRateLimitError,
    IntercomServerError,
    IntercomTransportError,
    IntercomUnauthorizedError,
)
from airflow_provider_intercom.sensors.tags import IntercomTagSensor
from airflow_provider_intercom.triggers.tags import IntercomTagTrigger
from tests.airflow_runs import airflow_log, xcoms

NO_RETRIES = {"max_retries": 0}


def sensor(**kwargs: Any) -> IntercomTagSensor:
    return IntercomTagSensor(task_id="wait", poke_interval=0.1, timeout=5, **kwargs)


def tag_lookups(sandbox) -> int:
    """How many times the tag was looked up: one GET /tags per check by name."""
    return sum(1 for entry in sandbox.requests if (entry["method"], entry["path"]) == ("GET", "/tags"))


def tagged_contacts(sandbox, tag_id: str, count: int) -> list[str]:
    return [sandbox.state.add_contact(email=f"p{n}@example.com", tags=[tag_id]).id for n in range(count)]


# -- poke() ----------------------------------------------------------------------------------------------


def test_missing_tag_is_not_done(intercom_sandbox, capfd, caplog):
    result = sensor(tag_name="churn-risk").poke({})
    assert (result.is_done, result.xcom_value) == (False, None)
    assert "No tag 'churn-risk' yet" in airflow_log(capfd, caplog)


def test_existing_tag_is_done_and_named_case_insensitively(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("Churn-Risk")
    result = sensor(tag_name="churn-RISK").poke({})
    assert result.is_done
    assert result.xcom_value == {"type": "tag", "id": tag.id, "name": "Churn-Risk"}  # Intercom's spelling


def test_tag_by_id_404_means_not_yet(intercom_sandbox):
    assert not sensor(tag_id="987").poke({}).is_done
    intercom_sandbox.state.add_tag("vip", tag_id="987")
    result = sensor(tag_id=987).poke({})  # an int id is accepted
    assert result.xcom_value == {"type": "tag", "id": "987", "name": "vip"}
    assert [entry["status"] for entry in intercom_sandbox.requests] == [404, 200]


def test_contact_must_carry_the_tag(intercom_sandbox, capfd, caplog):
    tag = intercom_sandbox.state.add_tag("vip")
    other = intercom_sandbox.state.add_tag("trial")
    carrying = intercom_sandbox.state.add_contact(email="a@example.com", tags=[tag.id]).id
    not_carrying = intercom_sandbox.state.add_contact(email="b@example.com", tags=[other.id]).id
    assert sensor(tag_name="vip", contact_id=carrying).poke({}).xcom_value == {
        "type": "tag",
        "id": tag.id,
        "name": "vip",
    }
    assert not sensor(tag_name="vip", contact_id=not_carrying).poke({}).is_done
    assert not sensor(tag_name="vip", contact_id="no-such-contact").poke({}).is_done  # 404: not yet
    out = airflow_log(capfd, caplog)
    assert f"Tag 'vip' (id {tag.id}) is on contact {carrying}" in out
    assert f"contact {not_carrying} does not carry it yet" in out
    assert "no contact has id no-such-contact" in out


def test_min_tagged_contacts_below_and_at_the_threshold(intercom_sandbox, capfd, caplog):
    tag = intercom_sandbox.state.add_tag("churn-risk")
    tagged_contacts(intercom_sandbox, tag.id, 2)
    below = sensor(tag_name="churn-risk", min_tagged_contacts=3).poke({})
    assert (below.is_done, below.xcom_value) == (False, None)
    intercom_sandbox.state.add_contact(email="third@example.com", tags=[tag.id])
    at = sensor(tag_name="churn-risk", min_tagged_contacts="3").poke({})  # as a template renders it
    assert at.xcom_value == {"type": "tag", "id": tag.id, "name": "churn-risk", "tagged_contacts": 3}
    out = airflow_log(capfd, caplog)
    assert f"Tag 'churn-risk' (id {tag.id}) has 2 of 3 contacts" in out
    assert f"Tag 'churn-risk' (id {tag.id}) has 3 of 3 contacts" in out
    searches = [entry for entry in intercom_sandbox.requests if entry["path"] == "/contacts/search"]
    assert len(searches) == 2  # one search per poke, however many contacts


def test_zero_contacts_is_met_once_the_tag_exists(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("empty")
    result = sensor(tag_id=tag.id, min_tagged_contacts=0).poke({})
    assert result.xcom_value == {"type": "tag", "id": tag.id, "name": "empty", "tagged_contacts": 0}


def test_transient_error_is_logged_and_the_sensor_pokes_again(intercom_sandbox, capfd, caplog):
    intercom_sandbox.state.add_tag("churn-risk")
    intercom_sandbox.inject("503")
    wait = sensor(tag_name="churn-risk", hook_params=NO_RETRIES)
    assert not wait.poke({}).is_done
    assert "Intercom did not answer for tag 'churn-risk' (503 service_unavailable" in airflow_log(
        capfd, caplog
    )
    assert wait.poke({}).is_done
    assert [entry["status"] for entry in intercom_sandbox.requests] == [503, 200]


def test_unauthorized_fails_at_once(intercom_sandbox, monkeypatch):
    connection = {**intercom_sandbox.airflow_connection(), "password": "wrong-token"}
    monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps(connection))
    with pytest.raises(IntercomUnauthorizedError, match="401 unauthorized"):
        sensor(tag_name="churn-risk").poke({})
    assert len(intercom_sandbox.requests) == 1  # neither retried nor poked again


class FailingHook:
    """Stands in for the hook where the sandbox cannot answer that way (403, 400 on GET /tags)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def find_tag_by_name(self, name: str) -> None:
        self.calls += 1
        raise self.error


FATAL = [
    IntercomForbiddenError(403, "forbidden", "Token lacks read_tags", method="GET", path="/tags"),
    IntercomBadRequestError(400, "parameter_invalid", "Bad request", method="GET", path="/tags"),
    IntercomConfigurationError("region='mars' is not an Intercom region"),
]
TRANSIENT = [
    IntercomServerError(502, "server_error", "Bad Gateway", method="GET", path="/tags"),
    IntercomRateLimitError(429, "rate_limit_exceeded", "Too many", method="GET", path="/tags"),
    IntercomTransportError("GET", "/tags", "connection failed (ConnectionError)"),
    IntercomInvalidResponseError(200, None, "body is not JSON (text/html)", method="GET", path="/tags"),
]


@pytest.mark.parametrize("error", FATAL, ids=lambda error: type(error).__name__)
def test_fatal_errors_fail_the_poke(error, capfd, caplog):
    wait = sensor(tag_name="churn-risk")
    wait.hook = FailingHook(error)  # type: ignore[assignment]
    with pytest.raises(type(error)):
        wait.poke({})
    assert f"Stopped waiting for tag 'churn-risk': {error} ({type(error).__name__})" in airflow_log(
        capfd, caplog
    )


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda error: type(error).__name__)
def test_transient_errors_mean_not_yet(error):
    wait = sensor(tag_name="churn-risk")
    wait.hook = FailingHook(error)  # type: ignore[assignment]
    assert not wait.poke({}).is_done
    assert not wait.poke({}).is_done
    assert wait.hook.calls == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "exactly one of tag_name and tag_id \\(got neither\\)"),
        ({"tag_name": "a", "tag_id": "1"}, "exactly one of tag_name and tag_id \\(got both\\)"),
        ({"tag_name": "  "}, "tag_name="),
        ({"tag_id": True}, "tag_id="),
        ({"tag_name": "a", "contact_id": ""}, "contact_id="),
        ({"tag_name": "a", "min_tagged_contacts": -1}, "min_tagged_contacts=-1"),
        ({"tag_name": "a", "min_tagged_contacts": "five"}, "min_tagged_contacts='five'"),
        ({"tag_name": "a", "min_tagged_contacts": 2.5}, "min_tagged_contacts=2.5"),
        ({"tag_name": "a", "min_tagged_contacts": True}, "min_tagged_contacts=True"),
    ],
)
def test_bad_arguments_fail_before_any_request(intercom_sandbox, kwargs, field):
    for call in (lambda task: task.poke({}), lambda task: task.execute({})):
        with pytest.raises(IntercomConfigurationError, match=field):
            call(sensor(**kwargs))
    assert intercom_sandbox.requests == []


def test_bad_connection_settings_fail_before_any_request(intercom_sandbox):
    with pytest.raises(IntercomConfigurationError, match="region='mars'"):
        sensor(tag_name="a", region="mars").execute({})
    with pytest.raises(IntercomConfigurationError, match="hook_params"):
        sensor(tag_name="a", hook_params=["max_retries"]).execute({})
    with pytest.raises(
        IntercomConfigurationError, match="hook_params=.*unexpected keyword argument 'retries'"
    ):
        sensor(tag_name="a", hook_params={"retries": 1}).execute({})
    assert intercom_sandbox.requests == []


def test_template_fields():
    assert IntercomTagSensor.template_fields == (
        "tag_name",
        "tag_id",
        "contact_id",
        "min_tagged_contacts",
        "intercom_conn_id",
        "api_version",
        "region",
    )


# -- deferrable, called directly ---------------------------------------------------------------------------


def test_deferrable_does_not_defer_when_already_satisfied(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("churn-risk")
    result = sensor(tag_name="churn-risk", deferrable=True).execute({})
    assert result == {"type": "tag", "id": tag.id, "name": "churn-risk"}
    assert tag_lookups(intercom_sandbox) == 1


def test_deferrable_checks_once_then_defers_to_the_trigger(intercom_sandbox):
    wait = IntercomTagSensor(
        task_id="wait",
        tag_name="churn-risk",
        contact_id="65a000000000000000000001",
        min_tagged_contacts="2",
        deferrable=True,
        poke_interval=7,
        timeout=30,
        region="us",
        hook_params=NO_RETRIES,
    )
    started = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        wait.execute({})
    assert tag_lookups(intercom_sandbox) == 1
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=30)
    trigger = deferred.value.trigger
    assert isinstance(trigger, IntercomTagTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_intercom.triggers.tags.IntercomTagTrigger"
    deadline = kwargs.pop("deadline")
    assert started + 30 <= deadline <= time.time() + 30
    assert kwargs == {
        "tag_name": "churn-risk",
        "tag_id": None,
        "contact_id": "65a000000000000000000001",
        "min_tagged_contacts": 2,  # validated and converted before it travels
        "poke_interval": 7.0,
        "intercom_conn_id": "intercom_default",
        "api_version": None,
        "region": "us",
        "hook_params": NO_RETRIES,
    }


def test_execute_complete_returns_the_tag_or_fails_clearly():
    wait = sensor(tag_name="churn-risk", deferrable=True)
    tag = {"type": "tag", "id": "7", "name": "churn-risk", "tagged_contacts": 4}
    assert wait.execute_complete({}, {"status": "success", "tag": tag}) == tag
    with pytest.raises(AirflowSensorTimeout, match="Sensor has timed out: Gave up"):
        wait.execute_complete({}, {"status": "timeout", "message": "Gave up waiting for tag 'churn-risk'"})
    with pytest.raises(IntercomError, match="failed while deferred: IntercomUnauthorizedError: 401"):
        wait.execute_complete(
            {}, {"status": "error", "message": "IntercomUnauthorizedError: 401 unauthorized"}
        )
    with pytest.raises(IntercomError, match="no usable event"):
        wait.execute_complete({}, None)


# -- real DAG runs (dag.test(): SQLite metadata DB, the trigger runs inline) ------------------------------


def task_states(run_id: str) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter(TaskInstance.run_id == run_id)
        return {row.task_id: row.state for row in rows}


def reschedules(run_id: str) -> int:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(TaskReschedule)
        if hasattr(TaskReschedule, "ti_id"):  # Airflow 3 keys reschedules by task instance id
            query = query.join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
            return query.filter(TaskInstance.run_id == run_id).count()
        return query.filter(TaskReschedule.run_id == run_id).count()


def tag_after_first_lookup(sandbox, name: str, contacts: int = 0) -> threading.Thread:
    """Create the tag (on ``contacts`` new contacts) as soon as the sensor has looked once, not before."""

    def create() -> None:
        give_up = time.monotonic() + 30
        while tag_lookups(sandbox) == 0 and time.monotonic() < give_up:
            time.sleep(0.01)
        tag = sandbox.state.add_tag(name)
        tagged_contacts(sandbox, tag.id, contacts)

    thread = threading.Thread(target=create, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("dag_id", "contacts"),
    [("intercom_sensor_poke", 0), ("intercom_sensor_reschedule", 0), ("intercom_sensor_deferrable", 2)],
)
def test_dag_run_waits_for_the_tag(dag_bag, intercom_sandbox, capfd, caplog, dag_id, contacts):
    creator = tag_after_first_lookup(intercom_sandbox, "churn-risk", contacts)
    dag_run = dag_bag.get_dag(dag_id).test()
    creator.join(timeout=5)
    assert dag_run.state == "success"
    tag = intercom_sandbox.state.find_tag_by_name("churn-risk")
    expected = {"type": "tag", "id": tag.id, "name": "churn-risk"}
    if contacts:
        expected["tagged_contacts"] = contacts
    values = {task_id: value for (task_id, _), value in xcoms(dag_run.run_id).items()}
    assert values["wait"] == expected
    assert values["use_tag"] == f"churn-risk#{tag.id}"  # the downstream task read the sensor's XCom
    # The first look found nothing, so the sensor (or, once deferred, its trigger) looked again.
    assert tag_lookups(intercom_sandbox) >= 2
    if dag_id == "intercom_sensor_reschedule":
        assert reschedules(dag_run.run_id) >= 1  # the worker slot was given back between pokes
    if dag_id == "intercom_sensor_deferrable":
        # The task deferred and resumed: only execute_complete() logs this line.
        assert f"Success criteria met: {expected}" in airflow_log(capfd, caplog)


@pytest.mark.parametrize("dag_id", ["intercom_sensor_poke_timeout", "intercom_sensor_deferrable_timeout"])
def test_dag_run_times_out_when_the_tag_never_comes(dag_bag, intercom_sandbox, capfd, caplog, dag_id):
    started = time.monotonic()
    dag_run = dag_bag.get_dag(dag_id).test()
    assert dag_run.state == "failed"
    assert task_states(dag_run.run_id) == {"wait": "failed", "use_tag": "upstream_failed"}
    assert ("wait", -1) not in xcoms(dag_run.run_id)
    assert tag_lookups(intercom_sandbox) >= 3  # polled every 0.3 s for the 1 s timeout
    assert time.monotonic() - started < 20
    assert "AirflowSensorTimeout: Sensor has timed out" in airflow_log(capfd, caplog)
