"""The request pipeline: authentication, the version check, rate limiting and the request log, over HTTP."""

from __future__ import annotations

import contextlib
import math
import time

import pytest
import requests

from airflow_provider_intercom.sandbox import IntercomSandbox
from tests.sandbox_api import ADMIN, ALICE, TIMEOUT, TOKEN, VIP, Api, assert_error

pytest_plugins = ["tests.sandbox_fixtures"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_requests_without_a_valid_token_get_401_without_rate_limit_headers(
    sandbox: IntercomSandbox, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.get(f"{sandbox.url}/tags", headers=headers, timeout=TIMEOUT)
    assert_error(response, 401, "unauthorized", "Access Token Invalid")
    assert not any(name.lower().startswith("x-ratelimit") for name in response.headers)


def test_unknown_intercom_version_is_refused(api: Api) -> None:
    response = api("GET", "/tags", headers={"Intercom-Version": "9.99"})
    assert_error(response, 400, "intercom_version_invalid")


def sleep_until_window_start(window_seconds: int) -> None:
    # Start just after a window boundary so a short burst stays inside one window.
    now = time.time()
    time.sleep(math.ceil(now / window_seconds) * window_seconds - now + 0.02)


def test_rate_limit_headers_and_429_with_an_exact_aligned_reset() -> None:
    with IntercomSandbox(token=TOKEN, rate_limit=3, window_seconds=1) as limited:
        api = Api(limited)
        sleep_until_window_start(1)
        started = time.time()
        responses = [api("GET", "/tags") for _ in range(4)]
        assert time.time() - started < 0.9, "the burst must fit in one window for this test"
        assert [response.status_code for response in responses] == [200, 200, 200, 429]
        assert [response.headers["X-RateLimit-Remaining"] for response in responses] == ["2", "1", "0", "0"]
        assert {response.headers["X-RateLimit-Limit"] for response in responses} == {"3"}
        resets = {int(response.headers["X-RateLimit-Reset"]) for response in responses}
        assert resets == {math.floor(started) + 1}
        assert_error(responses[3], 429, "rate_limit_exceeded", "Exceeded rate limit of 3 in 1_seconds")

        time.sleep(max(0.0, resets.pop() - time.time()) + 0.02)
        after_reset = api("GET", "/tags")
        assert after_reset.status_code == 200
        assert after_reset.headers["X-RateLimit-Remaining"] == "2"


def test_default_rate_limit_window_is_ten_seconds_aligned_to_the_epoch(api: Api) -> None:
    before = time.time()
    response = api("GET", "/tags")
    reset = int(response.headers["X-RateLimit-Reset"])
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert reset % 10 == 0
    assert before < reset <= before + 10


def test_request_log_records_each_answer_before_it_is_sent(sandbox: IntercomSandbox, api: Api) -> None:
    started = time.time()
    api("POST", "/tags", json={"name": "logged"}, headers={"Intercom-Version": "2.16"})
    api("GET", "/tags/999")
    requests.get(f"{sandbox.url}/tags", timeout=TIMEOUT)
    log = sandbox.requests
    assert [
        {key: entry[key] for key in ("method", "path", "status", "version", "body")} for entry in log
    ] == [
        {"method": "POST", "path": "/tags", "status": 200, "version": "2.16", "body": {"name": "logged"}},
        {"method": "GET", "path": "/tags/999", "status": 404, "version": "2.11", "body": None},
        {"method": "GET", "path": "/tags", "status": 401, "version": "2.11", "body": None},
    ]
    assert started <= log[0]["time"] <= log[1]["time"] <= log[2]["time"] <= time.time()
    assert log[0]["reset_at"] % 10 == 0
    assert log[2]["reset_at"] is None  # no rate-limit headers on a 401


def test_request_log_keeps_query_strings_and_bodies_of_every_method(
    sandbox: IntercomSandbox, api: Api
) -> None:
    api("GET", "/companies", params=[("tag_id", "6"), ("tag_id", "7"), ("per_page", "2")])
    api("DELETE", f"/conversations/1001/tags/{VIP}", json={"admin_id": ADMIN})
    api("PUT", f"/contacts/{ALICE}", json={"name": "A"})
    api("DELETE", f"/tags/{VIP}")
    log = sandbox.requests
    assert [(entry["method"], entry["path"], entry["query"], entry["body"]) for entry in log] == [
        ("GET", "/companies", {"tag_id": "7", "per_page": "2"}, None),
        ("DELETE", f"/conversations/1001/tags/{VIP}", {}, {"admin_id": ADMIN}),
        ("PUT", f"/contacts/{ALICE}", {}, {"name": "A"}),
        ("DELETE", f"/tags/{VIP}", {}, None),
    ]


def test_every_request_is_logged_by_the_time_its_answer_arrives(sandbox: IntercomSandbox, api: Api) -> None:
    sandbox.inject("500", "drop")
    for number in range(30):
        # The injected drop raises; the log must still hold the request.
        with contextlib.suppress(requests.ConnectionError):
            api("GET", "/tags")
        assert len(sandbox.requests) == number + 1
