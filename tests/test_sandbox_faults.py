"""Fault injection through the pipeline: scripted and random faults, late answers, latency."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Any

import pytest
import requests

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import ALICE, CAROL, SEED, TIMEOUT, TOKEN, TRIAL, VIP, Api, assert_error

pytest_plugins = ["tests.sandbox_fixtures"]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("500", 500, "server_error"),
        ("502", 502, "server_error"),
        ("503", 503, "service_unavailable"),
        ("408", 408, "request_timeout"),
        ("429", 429, "rate_limit_exceeded"),
    ],
)
def test_injected_status_faults_replace_one_answer_and_skip_its_effect(
    sandbox: IntercomSandbox, api: Api, fault: str, status: int, code: str
) -> None:
    sandbox.inject(fault)
    faulted = api("POST", "/tags", json={"name": "never-created"})
    assert_error(faulted, status, code)
    assert sandbox.state.find_tag_by_name("never-created") is None
    assert api("POST", "/tags", json={"name": "created"}).status_code == 200


def test_injected_429_carries_a_reset_about_a_second_ahead(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("429")
    before = time.time()
    response = api("GET", "/tags")
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert before < int(response.headers["X-RateLimit-Reset"]) <= math.ceil(before + 1) + 1


def test_injected_drop_closes_the_connection_without_an_answer(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("drop")
    with pytest.raises(requests.ConnectionError):
        api("POST", "/tags", json={"name": "dropped"})
    assert sandbox.state.find_tag_by_name("dropped") is None
    assert api("GET", "/tags").status_code == 200
    assert sandbox.requests[-2]["status"] is None


def test_injected_empty_and_html_200s(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("empty200", "html200")
    empty = api("GET", "/tags")
    assert (empty.status_code, empty.content) == (200, b"")
    html = api("GET", "/tags")
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        html.json()
    assert api("GET", "/tags").json()["type"] == "list"


def test_injected_delay_answers_normally_after_the_delay(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject(("delay", 300))
    started = time.monotonic()
    response = api("POST", "/tags", json={"name": "slow"})
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert sandbox.state.find_tag_by_name("slow") is not None


def test_injected_faults_apply_in_order_and_can_be_limited_to_a_path(
    sandbox: IntercomSandbox, api: Api
) -> None:
    sandbox.inject("503", path="/contacts")
    sandbox.inject("500", "502")
    assert api("GET", "/tags").status_code == 500
    assert api("GET", "/tags").status_code == 502
    assert api("GET", "/tags").status_code == 200
    assert api("GET", f"/contacts/{ALICE}").status_code == 503
    assert api("GET", f"/contacts/{ALICE}").status_code == 200
    assert sandbox.faults.pending == 0


def test_inject_refuses_unknown_faults(sandbox: IntercomSandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.inject("418")
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.inject(("pause", 5))


def random_fault_outcomes(count: int, **settings: Any) -> list[int | str]:
    """Send ``count`` GETs to a fresh faulty sandbox; each outcome is a status or ``"drop"``."""
    outcomes: list[int | str] = []
    with IntercomSandbox(token=TOKEN, **settings) as faulty:
        api = Api(faulty)
        for _ in range(count):
            try:
                outcomes.append(api("GET", "/tags").status_code)
            except requests.ConnectionError:
                outcomes.append("drop")
    return outcomes


def random_fault_statuses(fault_seed: int, count: int) -> list[int | str]:
    return random_fault_outcomes(count, fault_rate=0.5, fault_seed=fault_seed, late_ms=20)


def fault_decisions(sandbox: IntercomSandbox) -> list[str | None]:
    return [entry["fault"] for entry in sandbox.requests]


def test_random_faults_repeat_with_the_same_seed() -> None:
    first = random_fault_statuses(fault_seed=7, count=40)
    assert first == random_fault_statuses(fault_seed=7, count=40)
    assert first != random_fault_statuses(fault_seed=8, count=40)
    # late answers 200 after applying; late_drop applies and drops.
    assert set(first) <= {200, 429, 500, 502, 503, "drop"}
    assert 200 in first
    assert len(set(first) - {200}) >= 3, "the mix should hold several kinds of fault"


def test_random_fault_decisions_repeat_with_the_same_seed_and_use_the_default_mix() -> None:
    runs = []
    for seed in (11, 11, 12):
        with IntercomSandbox(token=TOKEN, fault_rate=0.6, fault_seed=seed, late_ms=5) as faulty:
            api = Api(faulty)
            for _ in range(120):
                with contextlib.suppress(requests.ConnectionError):
                    api("GET", "/tags")
            runs.append(fault_decisions(faulty))
            injected = faulty.faults.injected
            assert sum(injected.values()) == sum(kind is not None for kind in runs[-1])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    drawn = {kind for kind in runs[0] if kind is not None}
    assert drawn == {"429", "500", "502", "503", "drop", "late", "late_drop", "empty200"}
    assert 0.45 < sum(kind is not None for kind in runs[0]) / 120 < 0.75


def test_fault_kinds_select_what_random_faults_draw_from() -> None:
    with IntercomSandbox(token=TOKEN, fault_rate=1.0, fault_seed=3, fault_kinds="502, empty200") as faulty:
        api = Api(faulty)
        outcomes = [api("GET", "/tags") for _ in range(30)]
        assert {(response.status_code, response.content == b"") for response in outcomes} == {
            (502, False),
            (200, True),
        }
        assert set(faulty.faults.injected) == {"502", "empty200"}
    assert random_fault_outcomes(10, fault_rate=1.0, fault_seed=1, fault_kinds=["drop"]) == ["drop"] * 10


@pytest.mark.parametrize("kinds", ["", "500,teapot", ["delay"]])
def test_fault_kinds_refuse_unknown_or_empty_selections(kinds: Any) -> None:
    with pytest.raises(ValueError, match="fault kind"):
        IntercomSandbox(token=TOKEN, fault_rate=0.5, fault_kinds=kinds)


def test_injected_late_applies_the_write_then_answers_after_late_ms() -> None:
    with IntercomSandbox(token=TOKEN, seed=SEED, late_ms=400) as sandbox:
        api = Api(sandbox)
        sandbox.inject("late")
        answered: list[requests.Response] = []
        started = time.monotonic()
        client = threading.Thread(
            target=lambda: answered.append(api("POST", f"/contacts/{CAROL}/tags", json={"id": VIP}))
        )
        client.start()
        deadline = time.monotonic() + 0.3
        while VIP not in sandbox.state.contacts[CAROL].tags and time.monotonic() < deadline:
            time.sleep(0.01)
        # The write took effect while the answer is still held back.
        assert VIP in sandbox.state.contacts[CAROL].tags
        assert not answered
        client.join(TIMEOUT)
        assert time.monotonic() - started >= 0.4
        assert answered[0].status_code == 200
        assert answered[0].json()["id"] == VIP
        assert sandbox.requests[-1]["fault"] == "late"
        assert sandbox.requests[-1]["status"] == 200


def test_injected_late_with_its_own_delay_and_a_client_that_gives_up(
    sandbox: IntercomSandbox, api: Api
) -> None:
    sandbox.inject(("late", 1500))
    with pytest.raises(requests.ReadTimeout):
        api.session.post(f"{sandbox.url}/contacts/{CAROL}/tags", json={"id": TRIAL}, timeout=(TIMEOUT, 0.3))
    assert TRIAL in sandbox.state.contacts[CAROL].tags
    # The retry finds the tag already there, and the server still answers other requests.
    retried = api("POST", f"/contacts/{CAROL}/tags", json={"id": TRIAL})
    assert retried.status_code == 200
    assert [entry["fault"] for entry in sandbox.requests] == ["late", None]


def test_injected_late_drop_applies_the_write_then_drops_the_connection() -> None:
    with IntercomSandbox(token=TOKEN, seed=SEED, late_ms=200) as sandbox:
        api = Api(sandbox)
        sandbox.inject("late_drop")
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            api("DELETE", f"/contacts/{ALICE}/tags/{TRIAL}")
        assert time.monotonic() - started >= 0.2
        assert TRIAL not in sandbox.state.contacts[ALICE].tags
        entry = sandbox.requests[-1]
        assert (entry["method"], entry["status"], entry["fault"]) == ("DELETE", None, "late_drop")
        # Deleting again converges: the tag is already gone, and the answer is the same tag.
        again = api("DELETE", f"/contacts/{ALICE}/tags/{TRIAL}")
        assert again.status_code == 200
        assert again.json()["id"] == TRIAL


def test_late_faults_on_a_refused_request_change_nothing(sandbox: IntercomSandbox) -> None:
    sandbox.inject(("late_drop", 10))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.url}/tags", json={"name": "nope"}, timeout=TIMEOUT)
    assert sandbox.state.find_tag_by_name("nope") is None


def test_injected_empty200_and_502_replace_the_answer_and_skip_the_write(
    sandbox: IntercomSandbox, api: Api
) -> None:
    sandbox.inject("empty200", "502")
    empty = api("POST", f"/contacts/{CAROL}/tags", json={"id": VIP})
    assert (empty.status_code, empty.content) == (200, b"")
    bad_gateway = api("POST", f"/contacts/{CAROL}/tags", json={"id": VIP})
    assert_error(bad_gateway, 502, "server_error", "Bad Gateway")
    assert VIP not in sandbox.state.contacts[CAROL].tags
    assert [entry["fault"] for entry in sandbox.requests] == ["empty200", "502"]
    assert sandbox.faults.injected == {"empty200": 1, "502": 1}


def test_injected_429_reset_can_follow_the_rate_limit_window() -> None:
    with IntercomSandbox(token=TOKEN, window_seconds=5, injected_429_reset_seconds=None) as sandbox:
        api = Api(sandbox)
        sandbox.inject("429")
        before = time.time()
        response = api("GET", "/tags")
        reset = int(response.headers["X-RateLimit-Reset"])
        assert response.status_code == 429
        assert reset % 5 == 0
        assert before < reset <= before + 5
    with IntercomSandbox(token=TOKEN, injected_429_reset_seconds=3) as sandbox:
        sandbox.inject("429")
        before = time.time()
        reset = int(Api(sandbox)("GET", "/tags").headers["X-RateLimit-Reset"])
        assert before + 3 <= reset <= math.ceil(before + 3) + 1


@pytest.mark.parametrize("settings", [{"late_ms": -1}, {"injected_429_reset_seconds": -2}])
def test_negative_late_or_reset_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        IntercomSandbox(token=TOKEN, **settings)


def test_latency_delays_every_response() -> None:
    with IntercomSandbox(token=TOKEN, latency_ms=150) as slow:
        api = Api(slow)
        for path in ("/tags", "/nowhere"):
            started = time.monotonic()
            api("GET", path)
            assert time.monotonic() - started >= 0.15
