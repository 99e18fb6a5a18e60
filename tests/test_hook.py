"""IntercomHook against the sandbox on loopback: settings, every endpoint method, errors and retries."""

from __future__ import annotations

import json
import logging
import time

import pytest

from airflow_provider_intercom import __version__
from airflow_provider_intercom.exceptions import (
    IntercomAPIError,
    IntercomConfigurationError,
    IntercomInvalidResponseError,
    IntercomNotFoundError,
    IntercomServerError,
    IntercomTransportError,
    IntercomUnauthorizedError,
)
from airflow_provider_intercom.hooks.intercom import (
    DEFAULT_API_VERSION,
    REGION_BASE_URLS,
    SUPPORTED_API_VERSIONS,
    IntercomHook,
)
from tests.airflow_runs import airflow_log

FAST_RETRIES = {"backoff_base": 0.01, "backoff_max": 0.05}


def set_connection(
    monkeypatch: pytest.MonkeyPatch, conn_id: str = "intercom_default", **fields: object
) -> None:
    connection = {"conn_type": "intercom", "password": "secret-token-for-tests", **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


@pytest.fixture
def hook(intercom_sandbox) -> IntercomHook:
    return IntercomHook(**FAST_RETRIES)


def requests_to(sandbox, path: str) -> list[dict]:
    return [entry for entry in sandbox.requests if entry["path"] == path]


# -- settings: region, host, version, token ----------------------------------------------------------


@pytest.mark.parametrize(("region", "url"), sorted(REGION_BASE_URLS.items()))
def test_region_selects_base_url(monkeypatch, region, url):
    set_connection(monkeypatch, extra={"region": region})
    assert IntercomHook().settings.base_url == url


def test_region_defaults_to_us_and_is_case_insensitive(monkeypatch):
    set_connection(monkeypatch)
    assert IntercomHook().settings.base_url == "https://api.intercom.io"
    set_connection(monkeypatch, extra={"region": "EU"})
    assert IntercomHook().settings.region == "eu"


def test_argument_overrides_connection(monkeypatch):
    set_connection(monkeypatch, extra={"region": "eu", "api_version": "2.9"})
    settings = IntercomHook(region="au", api_version="2.16").settings
    assert (settings.base_url, settings.api_version) == ("https://api.au.intercom.io", "2.16")


def test_host_overrides_region(monkeypatch):
    set_connection(monkeypatch, host="http://127.0.0.1:8111/", extra={"region": "eu"})
    assert IntercomHook().settings.base_url == "http://127.0.0.1:8111"


def test_host_without_scheme_gets_https_and_port(monkeypatch):
    set_connection(monkeypatch, host="proxy.internal", port=8443)
    assert IntercomHook().settings.base_url == "https://proxy.internal:8443"


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("http://[::1]", 8111, "http://[::1]:8111"),  # IPv6 loopback: the connection's port applies
        ("[::1]:8111", None, "https://[::1]:8111"),
        ("http://[::1]:8111/", 9999, "http://[::1]:8111"),  # the host's own port wins over conn.port
        ("http://127.0.0.1:8111", 9999, "http://127.0.0.1:8111"),
        ("https://proxy.internal/intercom", 8443, "https://proxy.internal:8443/intercom"),
    ],
)
def test_host_port_and_ipv6(monkeypatch, host, port, url):
    set_connection(monkeypatch, host=host, port=port)
    assert IntercomHook().settings.base_url == url


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        (
            "ftp://files.example.com",
            r"must be an http:// or https:// URL \(or empty, to use the region's URL\)",
        ),
        ("proxy.internal:port", r"is not a valid URL"),
    ],
)
def test_unusable_host_is_refused_before_any_request(monkeypatch, host, pattern):
    set_connection(monkeypatch, host=host)
    with pytest.raises(IntercomConfigurationError, match=pattern):
        _ = IntercomHook().settings


def test_sandbox_fixture_connection_points_at_sandbox(intercom_sandbox):
    assert IntercomHook().settings.base_url == intercom_sandbox.url


def test_bad_region_names_field_and_allowed_values(monkeypatch):
    set_connection(monkeypatch, extra={"region": "mars"})
    with pytest.raises(IntercomConfigurationError, match=r"region.*'mars'.*us, eu, au"):
        _ = IntercomHook().settings


@pytest.mark.parametrize(
    ("version", "pattern"),
    [
        ("1.4", r"legacy users API"),
        ("2.99", r"not a known Intercom API version.*2\.0, 2\.1,.*2\.16, Preview"),
        (2.1, r"must be a string"),
    ],
)
def test_bad_api_version_is_refused_before_any_request(intercom_sandbox, version, pattern):
    hook = IntercomHook(api_version=version)  # type: ignore[arg-type]
    with pytest.raises(IntercomConfigurationError, match=pattern):
        hook.list_tags()
    assert intercom_sandbox.requests == []


def test_known_versions_cover_2_0_to_2_16_and_preview():
    assert SUPPORTED_API_VERSIONS[0] == "2.0"
    assert SUPPORTED_API_VERSIONS[-2:] == ("2.16", "Preview")
    assert DEFAULT_API_VERSION == "2.11"


def test_missing_token_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps({"conn_type": "intercom"}))
    with pytest.raises(IntercomConfigurationError, match="no access token"):
        _ = IntercomHook().settings


@pytest.mark.parametrize("version", ["2.9", "2.11", "2.16", "Preview"])
def test_version_header_is_sent_on_every_request(intercom_sandbox, version):
    hook = IntercomHook(api_version=version)
    hook.list_tags()
    hook.get_me()
    assert [entry["version"] for entry in intercom_sandbox.requests] == [version, version]


def test_session_headers(intercom_sandbox):
    session = IntercomHook().get_conn()
    assert session.headers["Authorization"] == f"Bearer {intercom_sandbox.token}"
    assert session.headers["Accept"] == "application/json"
    assert session.headers["Content-Type"] == "application/json"
    assert session.headers["User-Agent"] == f"airflow-provider-intercom/{__version__}"
    assert IntercomHook().get_conn() is not session  # one session per hook
    hook = IntercomHook()
    assert hook.get_conn() is hook.get_conn()


# -- endpoint methods ----------------------------------------------------------------------------------


def test_tag_lifecycle(hook, intercom_sandbox):
    created = hook.create_or_update_tag("Churn Risk")
    assert created["type"] == "tag"
    assert created["name"] == "Churn Risk"
    assert isinstance(created["id"], str)
    # Names are case-insensitive: creating again returns the same tag.
    assert hook.create_or_update_tag("churn risk")["id"] == created["id"]
    assert hook.find_tag(created["id"])["name"] == "Churn Risk"
    renamed = hook.create_or_update_tag("Churn risk (90d)", tag_id=created["id"])
    assert renamed["id"] == created["id"]
    assert any(tag["name"] == "Churn risk (90d)" for tag in hook.list_tags())
    assert hook.delete_tag(created["id"]) is None
    with pytest.raises(IntercomNotFoundError):
        hook.find_tag(created["id"])
    assert all(tag["id"] != created["id"] for tag in hook.list_tags())


def test_contact_tagging(hook, intercom_sandbox):
    contact_id = intercom_sandbox.state.add_contact(email="dana@example.com", role="user").id
    tag = hook.create_or_update_tag("vip")
    applied = hook.tag_contact(contact_id, tag["id"])
    assert (applied["id"], applied["name"]) == (tag["id"], "vip")
    assert [t["id"] for t in hook.list_contact_tags(contact_id)] == [tag["id"]]
    contact = hook.get_contact(contact_id)
    assert contact["email"] == "dana@example.com"
    assert [t["id"] for t in contact["tags"]["data"]] == [tag["id"]]
    hook.tag_contact(contact_id, tag["id"])  # tagging twice is harmless
    assert len(hook.list_contact_tags(contact_id)) == 1
    removed = hook.untag_contact(contact_id, tag["id"])
    assert removed["id"] == tag["id"]
    assert hook.list_contact_tags(contact_id) == []


def test_get_me(hook, intercom_sandbox):
    me = hook.get_me()
    assert me["type"] == "admin"
    assert me["id"]


def test_search_pagination_follows_cursor_in_body(hook, intercom_sandbox):
    ids = [intercom_sandbox.state.add_contact(email=f"user{n}@example.com", role="user").id for n in range(7)]
    found = list(hook.search_contacts({"field": "role", "operator": "=", "value": "user"}, per_page=3))
    assert sorted(contact["id"] for contact in found) == sorted(ids)
    searches = requests_to(intercom_sandbox, "/contacts/search")
    assert len(searches) == 3
    cursors = [entry["body"]["pagination"].get("starting_after") for entry in searches]
    assert cursors[0] is None
    assert cursors[1]
    assert cursors[2]
    assert cursors[1] != cursors[2]


def test_search_by_email_in(hook, intercom_sandbox):
    a = intercom_sandbox.state.add_contact(email="a@example.com", role="user").id
    intercom_sandbox.state.add_contact(email="b@example.com", role="lead")
    c = intercom_sandbox.state.add_contact(email="c@example.com", role="lead").id
    query = {
        "field": "email",
        "operator": "IN",
        "value": ["a@example.com", "c@example.com", "zz@example.com"],
    }
    assert sorted(contact["id"] for contact in hook.search_contacts(query)) == sorted([a, c])


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda h: h.find_tag(""), r"tag_id=''"),
        (lambda h: h.tag_contact(None, "1"), r"contact_id=None"),
        (lambda h: h.create_or_update_tag("  "), r"name='  '"),
        (
            lambda h: list(h.search_contacts({"field": "id", "operator": "=", "value": "1"}, per_page=500)),
            "per_page",
        ),
    ],
)
def test_bad_arguments_name_the_field_and_send_nothing(hook, intercom_sandbox, call, pattern):
    with pytest.raises(IntercomConfigurationError, match=pattern):
        call(hook)
    assert intercom_sandbox.requests == []


def test_ids_are_quoted_into_the_path(hook, intercom_sandbox):
    with pytest.raises(IntercomNotFoundError) as caught:
        hook.get_contact("../tags")
    assert caught.value.path == "/contacts/..%2Ftags"


# -- errors -------------------------------------------------------------------------------------------


def test_unauthorized(intercom_sandbox, monkeypatch):
    set_connection(monkeypatch, host=intercom_sandbox.url, password="wrong-token-123")
    with pytest.raises(IntercomUnauthorizedError) as caught:
        IntercomHook(**FAST_RETRIES).list_tags()
    error = caught.value
    assert (error.status, error.code) == (401, "unauthorized")
    assert str(error).startswith("401 unauthorized: Access Token Invalid (GET /tags, request_id ")
    assert len(requests_to(intercom_sandbox, "/tags")) == 1  # a 401 is never retried


def test_not_found_message_format(hook, intercom_sandbox):
    with pytest.raises(IntercomNotFoundError) as caught:
        hook.find_tag("999999")
    error = caught.value
    assert isinstance(error, IntercomAPIError)
    assert (error.status, error.code, error.message) == (404, "not_found", "Resource Not Found")
    assert error.request_id
    assert (
        str(error) == f"404 not_found: Resource Not Found (GET /tags/999999, request_id {error.request_id})"
    )
    assert error.to_dict() == {
        "status": 404,
        "code": "not_found",
        "message": "Resource Not Found",
        "request_id": error.request_id,
    }
    assert len(requests_to(intercom_sandbox, "/tags/999999")) == 1  # a 404 is never retried


def test_test_connection(intercom_sandbox, monkeypatch):
    ok, message = IntercomHook().test_connection()
    assert ok, message
    assert intercom_sandbox.url in message
    set_connection(monkeypatch, host=intercom_sandbox.url, password="wrong-token-123")
    ok, message = IntercomHook(**FAST_RETRIES).test_connection()
    assert not ok
    assert "401" in message
    assert "wrong-token-123" not in message
    monkeypatch.delenv("AIRFLOW_CONN_INTERCOM_DEFAULT")
    ok, message = IntercomHook().test_connection()
    assert not ok
    assert "intercom_default" in message


# -- retries ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "502", "503", "408", "drop", "html200", "empty200"])
def test_transient_failure_is_retried(hook, intercom_sandbox, fault):
    intercom_sandbox.inject(fault, fault)
    tags = hook.list_tags()
    assert isinstance(tags, list)
    assert len(requests_to(intercom_sandbox, "/tags")) == 3


def test_retries_exhausted_raise_api_error(intercom_sandbox):
    intercom_sandbox.inject("500", "503", "500")
    with pytest.raises(IntercomAPIError) as caught:
        IntercomHook(max_retries=2, **FAST_RETRIES).list_tags()
    assert isinstance(caught.value, IntercomServerError)
    assert caught.value.status == 500
    assert len(requests_to(intercom_sandbox, "/tags")) == 3


def test_non_json_body_without_retries(intercom_sandbox):
    intercom_sandbox.inject("html200")
    with pytest.raises(IntercomInvalidResponseError, match=r"200 error: body is not JSON \(text/html"):
        IntercomHook(max_retries=0).list_tags()


def test_timeout_raises_transport_error(intercom_sandbox):
    intercom_sandbox.inject(("delay", 1500))
    hook = IntercomHook(timeout=(2.0, 0.3), max_retries=0)
    with pytest.raises(IntercomTransportError, match=r"GET /tags got no answer from Intercom: timed out"):
        hook.list_tags()


def test_timeout_is_retried(intercom_sandbox):
    intercom_sandbox.inject(("delay", 1500))
    assert isinstance(IntercomHook(timeout=(2.0, 0.3), max_retries=1, **FAST_RETRIES).list_tags(), list)


def test_rate_limited_call_waits_for_reset_then_succeeds(hook, intercom_sandbox):
    intercom_sandbox.inject("429")
    started = time.time()
    assert isinstance(hook.list_tags(), list)
    statuses = [entry["status"] for entry in requests_to(intercom_sandbox, "/tags")]
    assert statuses == [429, 200]
    refused, retried = requests_to(intercom_sandbox, "/tags")
    # The retry went out only once the window the 429 named had reset.
    assert retried["time"] >= refused["reset_at"] >= started


def test_pacer_holds_calls_when_window_budget_is_spent(monkeypatch):
    from airflow_provider_intercom.sandbox import IntercomSandbox

    with IntercomSandbox(rate_limit=3, window_seconds=1) as sandbox:
        set_connection(monkeypatch, host=sandbox.url, password=sandbox.token)
        hook = IntercomHook(**FAST_RETRIES)
        for _ in range(7):
            hook.list_tags()
        log = sandbox.requests
    assert [entry["status"] for entry in log] == [200] * 7  # paced: no call was refused
    windows = {int(entry["time"]) for entry in log}
    assert len(windows) >= 3  # 7 calls at 3 per window need at least three windows


# -- the token never leaks ----------------------------------------------------------------------------


def test_token_never_appears_in_logs_or_errors(intercom_sandbox, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    messages = []
    hook = IntercomHook(**FAST_RETRIES)
    intercom_sandbox.inject("500", "drop", "429")
    hook.list_tags()
    for call in (lambda: hook.find_tag("404404"), lambda: hook.get_contact("nobody")):
        with pytest.raises(IntercomAPIError) as caught:
            call()
        messages.append(str(caught.value))
        messages.append(repr(caught.value))
    set_connection(monkeypatch, host=intercom_sandbox.url, password="another-secret-token")
    bad = IntercomHook(**FAST_RETRIES)
    with pytest.raises(IntercomUnauthorizedError) as caught:
        bad.list_tags()
    messages += [str(caught.value), bad.test_connection()[1], repr(bad.settings), repr(hook.settings)]
    text = airflow_log(capfd, caplog) + "\n".join(messages)
    assert "retry 1 of 6" in text, "expected the retries to be logged"
    for token in (intercom_sandbox.token, "another-secret-token"):
        assert token not in text
