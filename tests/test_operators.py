"""The tag operators against the sandbox on API 2.11 and 2.16, their reports checked item by item."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import (
    IntercomConfigurationError,
    IntercomPartialFailureError,
    IntercomTagInUseError,
    IntercomTagNotFoundError,
    IntercomUnauthorizedError,
)
from airflow_provider_intercom.links.tags import TAG_LINK_XCOM_KEY
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
    chunk_ids,
)
from tests.airflow_runs import RecordingTaskInstance

VERSIONS = ["2.11", "2.16"]
WRITES = {"POST", "PUT", "DELETE"}


def run(operator, **context: Any) -> tuple[Any, RecordingTaskInstance]:
    ti = RecordingTaskInstance()
    return operator.execute({"ti": ti, **context}), ti


def assert_accounted(report: dict[str, Any]) -> None:
    """Every requested item is in exactly one bucket."""
    buckets = [*report["succeeded"], *report["not_found"], *(entry["id"] for entry in report["failed"])]
    assert len(buckets) == len(set(buckets)) == report["requested"]


def writes(sandbox) -> list[dict[str, Any]]:
    return [
        entry
        for entry in sandbox.requests
        if entry["method"] in WRITES and entry["path"] != "/contacts/search"
    ]


def add_contacts(sandbox, count: int, role: str = "user", prefix: str = "person") -> list[str]:
    return [
        sandbox.state.add_contact(email=f"{prefix}{n}@example.com", external_id=f"{prefix}-{n}", role=role).id
        for n in range(count)
    ]


def tag_ids_of(sandbox, contact_id: str) -> set[str]:
    return set(sandbox.state.contacts[contact_id].tags)


def task(operator_class, **kwargs: Any):
    return operator_class(task_id="t", **kwargs)


# -- TagContactsOperator -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_tag_contacts_by_id(intercom_sandbox, version):
    ids = add_contacts(intercom_sandbox, 7)
    report, _ = run(
        task(TagContactsOperator, tag_name="churn-risk", contact_ids=ids, batch_size=3, api_version=version)
    )
    assert_accounted(report)
    assert report["succeeded"] == ids
    assert (report["not_found"], report["failed"], report["dry_run"]) == ([], [], False)
    tag = intercom_sandbox.state.find_tag_by_name("churn-risk")
    assert report["tag"] == {"type": "tag", "id": tag.id, "name": "churn-risk"}
    assert all(tag.id in tag_ids_of(intercom_sandbox, contact_id) for contact_id in ids)
    bulk_calls = [
        entry for entry in intercom_sandbox.requests if entry["path"] == "/tags" and entry["method"] == "POST"
    ]
    assert [len(entry["body"]["users"]) for entry in bulk_calls if "users" in entry["body"]] == [3, 3, 1]


@pytest.mark.parametrize("version", VERSIONS)
def test_three_unknown_ids_in_fifty(intercom_sandbox, version):
    known = add_contacts(intercom_sandbox, 47)
    unknown = ["ghost-1", "ghost-2", "ghost-3"]
    requested = known[:10] + [unknown[0]] + known[10:30] + [unknown[1]] + known[30:] + [unknown[2]]
    operator = task(TagContactsOperator, tag_name="churn-risk", contact_ids=requested, api_version=version)
    with pytest.raises(
        IntercomPartialFailureError, match=r"3 of 50 contacts were not done \(3 not found, 0 failed\)"
    ):
        run(operator)
    # The report was pushed before the task failed; run again with a tolerance to read it directly.
    intercom_sandbox.state.clear_request_log()
    report, ti = run(
        task(
            TagContactsOperator,
            tag_name="churn-risk",
            contact_ids=requested,
            api_version=version,
            max_failed_ratio=0.1,
        )
    )
    assert_accounted(report)
    assert report["requested"] == 50
    assert report["not_found"] == unknown
    assert report["succeeded"] == known
    tag = intercom_sandbox.state.find_tag_by_name("churn-risk")
    assert all(tag.id in tag_ids_of(intercom_sandbox, contact_id) for contact_id in known)
    # Within tolerance the report is returned, not pushed early: only the tag link is pushed.
    assert list(ti.pushed) == [TAG_LINK_XCOM_KEY]
    bulk = [
        entry for entry in intercom_sandbox.requests if entry["method"] == "POST" and entry["path"] == "/tags"
    ]
    # 2.11 refuses the whole batch once, then the 47 known ids go in one call; 2.16 skips the unknown.
    assert [(entry["status"], len(entry["body"]["users"])) for entry in bulk] == (
        [(404, 50), (200, 47)] if version == "2.11" else [(200, 50)]
    )


def test_after_a_refused_batch_the_ids_still_to_send_are_checked_first_on_2_11(intercom_sandbox):
    known = add_contacts(intercom_sandbox, 1200)
    stale = [f"{n:024x}" for n in range(1, 7)]
    # One stale id in the first window's first batch, then one in every 200 ids; 1,206 ids in 2 windows.
    requested = [stale[0], *known[:200], stale[1], *known[200:400], stale[2], *known[400:600], stale[3]]
    requested += [*known[600:900], stale[4], *known[900:], stale[5]]
    report, _ = run(
        task(
            TagContactsOperator,
            tag_name="churn-risk",
            contact_ids=requested,
            api_version="2.11",
            max_failed_ratio=0.1,
            max_items=2000,
            max_xcom_items=2000,
        )
    )
    assert (sorted(report["not_found"]), report["succeeded"]) == (sorted(stale), known)
    requests = intercom_sandbox.requests
    bulk = [entry for entry in requests if entry["path"] == "/tags" and (entry["body"] or {}).get("users")]
    searches = [entry for entry in requests if entry["path"] == "/contacts/search"]
    # Only the first batch is refused; from there on (the second window too) ids are checked before sending.
    assert [entry["status"] for entry in bulk].count(404) == 1
    assert bulk[0]["status"] == 404
    assert all(entry["status"] == 200 for entry in bulk[1:])
    assert all(len(entry["body"]["query"]["value"]) <= 150 for entry in searches)
    assert len(searches) == 1 + 7 + 2  # the refused batch's search, then one per 150 ids in each window
    tag = intercom_sandbox.state.find_tag_by_name("churn-risk")
    assert all(tag.id in tag_ids_of(intercom_sandbox, contact_id) for contact_id in known)


def test_with_every_id_known_nothing_is_checked_on_2_11(intercom_sandbox):
    known = add_contacts(intercom_sandbox, 120)
    run(task(TagContactsOperator, tag_name="vip", contact_ids=known, api_version="2.11"))
    paths = [entry["path"] for entry in intercom_sandbox.requests]
    assert "/contacts/search" not in paths
    assert paths.count("/tags") == 2 + 3  # GET /tags, POST /tags creating it, then three bulk calls


def test_partial_failure_pushes_report_before_failing(intercom_sandbox):
    known = add_contacts(intercom_sandbox, 2)
    operator = task(TagContactsOperator, tag_name="vip", contact_ids=[*known, "ghost"])
    ti = RecordingTaskInstance()
    with pytest.raises(IntercomPartialFailureError) as caught:
        operator.execute({"ti": ti})
    assert ti.pushed["return_value"] == caught.value.report
    assert caught.value.report["succeeded"] == known
    assert caught.value.report["not_found"] == ["ghost"]


def test_emails_and_external_ids_resolve(intercom_sandbox):
    state = intercom_sandbox.state
    user = state.add_contact(email="shared@example.com", role="user", external_id="u-1").id
    lead = state.add_contact(email="shared@example.com", role="lead").id
    other = state.add_contact(email="other@example.com", role="user", external_id="u-2").id
    operator = task(
        TagContactsOperator,
        tag_name="churn-risk",
        emails=["SHARED@example.com", "nobody@example.com"],
        external_ids=["u-2", "u-404"],
        max_failed_ratio=0.5,
    )
    report, _ = run(operator)
    assert_accounted(report)
    assert report["requested"] == 4
    assert report["succeeded"] == ["SHARED@example.com", "u-2"]
    assert report["not_found"] == ["nobody@example.com", "u-404"]
    resolved = report["resolved"]
    assert sorted(resolved["emails"]["SHARED@example.com"]) == sorted([user, lead])
    assert resolved["ambiguous"]["emails"] == ["SHARED@example.com"]
    assert resolved["unresolved"] == {"emails": ["nobody@example.com"], "external_ids": ["u-404"]}
    tag = state.find_tag_by_name("churn-risk")
    assert {
        contact for contact in (user, lead, other) if tag.id in tag_ids_of(intercom_sandbox, contact)
    } == {
        user,
        lead,
        other,
    }


def dry_run(sandbox, operator_class, **kwargs: Any) -> dict[str, Any]:
    """Dry-run tagging with a tag that does not exist yet; check that it wrote nothing; return the report."""
    report, _ = run(task(operator_class, tag_name="new-tag", dry_run=True, **kwargs))
    assert_accounted(report)
    assert report["dry_run"] is True
    assert report["tag"] == {"type": "tag", "id": None, "name": "new-tag"}
    assert writes(sandbox) == []
    assert sandbox.state.find_tag_by_name("new-tag") is None
    return report


def test_dry_run_writes_nothing(intercom_sandbox):
    ids = add_contacts(intercom_sandbox, 3)
    report = dry_run(intercom_sandbox, TagContactsOperator, contact_ids=ids, emails=["person0@example.com"])
    assert report["succeeded"] == [*ids, "person0@example.com"]


def test_dry_run_from_a_rendered_template_string(intercom_sandbox):
    ids = add_contacts(intercom_sandbox, 2)
    report, _ = run(task(TagContactsOperator, tag_name="x", contact_ids=",".join(ids), dry_run="True"))
    assert report["dry_run"] is True
    assert writes(intercom_sandbox) == []


def test_existing_tag_by_id_and_no_create(intercom_sandbox):
    ids = add_contacts(intercom_sandbox, 2)
    tag = intercom_sandbox.state.add_tag("vip")
    report, _ = run(task(TagContactsOperator, tag_id=tag.id, contact_ids=ids))
    assert report["tag"]["name"] == "vip"
    with pytest.raises(IntercomTagNotFoundError, match="No tag is named 'absent'"):
        run(task(TagContactsOperator, tag_name="absent", contact_ids=ids, create_tag_if_missing=False))
    assert intercom_sandbox.state.find_tag_by_name("absent") is None


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"tag_name": "a", "tag_id": "1", "contact_ids": ["1"]},
            "exactly one of tag_name and tag_id .got both",
        ),
        ({"contact_ids": ["1"]}, "exactly one of tag_name and tag_id .got neither"),
        ({"tag_name": "a", "contact_ids": []}, "contact_ids, emails and external_ids are all empty"),
        ({"tag_name": "a"}, "all empty or missing"),
        ({"tag_name": "a", "contact_ids": ["1", None]}, r"contact_ids\[1\]=None"),
        ({"tag_name": "a", "contact_ids": ["1", "  "]}, r"contact_ids\[1\]='  '"),
        ({"tag_name": "a", "contact_ids": [3.5]}, r"contact_ids\[0\]=3.5"),
        ({"tag_name": "a", "emails": [True]}, r"emails\[0\]=True"),
        (
            {"tag_name": "a", "contact_ids": ["1"], "batch_size": 0},
            "batch_size=0 must be an integer from 1 to 50",
        ),
        ({"tag_name": "a", "contact_ids": ["1"], "batch_size": 51}, "batch_size=51"),
        ({"tag_name": "a", "contact_ids": ["1"], "max_failed_ratio": 2}, "max_failed_ratio=2"),
        ({"tag_name": "a", "contact_ids": ["1"], "dry_run": "maybe"}, "dry_run='maybe'"),
        ({"tag_name": "a", "contact_ids": ["1"], "region": "mars"}, r"region='mars'.*us, eu, au"),
        ({"tag_name": "a", "contact_ids": ["1"], "api_version": "1.4"}, "legacy users API"),
        ({"tag_name": "a", "contact_ids": ["1"], "api_version": "3.0"}, "not a known Intercom API version"),
    ],
)
def test_bad_input_is_refused_before_any_request(intercom_sandbox, kwargs, pattern):
    with pytest.raises(IntercomConfigurationError, match=pattern):
        run(task(TagContactsOperator, **kwargs))
    assert intercom_sandbox.requests == []


def test_unauthorized_stops_the_task(intercom_sandbox, monkeypatch):
    import json

    monkeypatch.setenv(
        "AIRFLOW_CONN_BAD_TOKEN",
        json.dumps({"conn_type": "intercom", "host": intercom_sandbox.url, "password": "not-the-token"}),
    )
    with pytest.raises(IntercomUnauthorizedError):
        run(task(TagContactsOperator, tag_name="a", contact_ids=["1"], intercom_conn_id="bad_token"))
    assert len(intercom_sandbox.requests) == 1


def test_transient_failures_are_reported_per_item(intercom_sandbox):
    ids = add_contacts(intercom_sandbox, 4)
    intercom_sandbox.state.add_tag("vip")
    # The tag lookup passes (a zero delay), the first batch fails on every attempt (1 try + 6
    # retries), and the second batch succeeds.
    intercom_sandbox.inject(("delay", 0), *["503"] * 7, path="/tags")
    operator = task(TagContactsOperator, tag_name="vip", contact_ids=ids, batch_size=2, max_failed_ratio=0.5)
    operator.hook.backoff_base = operator.hook.backoff_max = 0.01
    report, _ = run(operator)
    assert_accounted(report)
    assert [entry["id"] for entry in report["failed"]] == ids[:2]
    assert report["failed"][0]["error"]["status"] == 503
    assert report["failed"][0]["error"]["request_id"]
    assert report["succeeded"] == ids[2:]


# -- UntagContactsOperator -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_untag_contacts(intercom_sandbox, version):
    state = intercom_sandbox.state
    tag = state.add_tag("trial")
    ids = [state.add_contact(email=f"t{n}@example.com", role="user", tags=[tag.id]).id for n in range(3)]
    report, _ = run(
        task(
            UntagContactsOperator,
            tag_name="TRIAL",
            contact_ids=[*ids, "ghost"],
            api_version=version,
            max_failed_ratio=0.25,
        )
    )
    assert_accounted(report)
    assert report["succeeded"] == ids
    assert report["not_found"] == ["ghost"]
    assert all(tag.id not in tag_ids_of(intercom_sandbox, contact_id) for contact_id in ids)
    deletes = [entry for entry in intercom_sandbox.requests if entry["method"] == "DELETE"]
    assert len(deletes) == 4  # one call per contact: Intercom has no bulk untag for contacts


def test_untag_never_creates_the_tag(intercom_sandbox):
    ids = add_contacts(intercom_sandbox, 1)
    with pytest.raises(IntercomTagNotFoundError):
        run(task(UntagContactsOperator, tag_name="nope", contact_ids=ids))
    assert writes(intercom_sandbox) == []


def test_untag_dry_run_writes_nothing(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("trial")
    ids = [intercom_sandbox.state.add_contact(email="x@example.com", tags=[tag.id]).id]
    report, _ = run(task(UntagContactsOperator, tag_name="trial", contact_ids=ids, dry_run=True))
    assert report["succeeded"] == ids
    assert writes(intercom_sandbox) == []
    assert tag.id in tag_ids_of(intercom_sandbox, ids[0])


# -- list, create, delete ------------------------------------------------------------------------------


def test_list_tags_with_pattern_and_for_a_contact(intercom_sandbox):
    state = intercom_sandbox.state
    churn = state.add_tag("Churn-Risk")
    state.add_tag("churn-2024")
    state.add_tag("vip")
    contact = state.add_contact(email="c@example.com", tags=[churn.id]).id
    tags, _ = run(task(ListTagsOperator, name_pattern="CHURN*"))
    assert sorted(tag["name"] for tag in tags) == ["Churn-Risk", "churn-2024"]
    assert all(set(tag) >= {"type", "id", "name"} for tag in tags)
    tags, _ = run(task(ListTagsOperator))
    assert len(tags) == 3
    tags, _ = run(task(ListTagsOperator, contact_id=contact))
    assert [tag["id"] for tag in tags] == [churn.id]


def test_create_and_delete_tag(intercom_sandbox):
    created, _ = run(task(CreateTagOperator, tag_name="temp"))
    assert created == {"type": "tag", "id": created["id"], "name": "temp"}
    again, _ = run(task(CreateTagOperator, tag_name="TEMP"))
    assert again["id"] == created["id"]
    deleted, _ = run(task(DeleteTagOperator, tag_name="temp"))
    assert deleted == {"tag": created, "deleted": True}
    assert intercom_sandbox.state.find_tag_by_name("temp") is None
    gone, _ = run(task(DeleteTagOperator, tag_id=created["id"]))
    assert gone["deleted"] is False


# -- chunk_ids ------------------------------------------------------------------------------------------


def test_chunk_ids():
    assert chunk_ids(["a", "b", "a", "c", "d"], 2) == [["a", "b"], ["c", "d"]]
    chunks = chunk_ids([str(n) for n in range(5000)], 2, max_chunks=1024)
    assert len(chunks) <= 1024
    assert sum(len(chunk) for chunk in chunks) == 5000
    assert chunks[0][:2] == ["0", "1"]
    with pytest.raises(IntercomConfigurationError, match="size=0"):
        chunk_ids(["a"], 0)


def test_chunk_ids_reads_max_map_length(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "10")
    assert len(chunk_ids([str(n) for n in range(1000)], 5)) == 10


# -- companies -----------------------------------------------------------------------------------------


def add_companies(sandbox, count: int, tags: list[str] | None = None) -> list[tuple[str, str]]:
    companies = [
        sandbox.state.add_company(company_id=f"ext-{n}", name=f"Company {n}", tags=tags or [])
        for n in range(count)
    ]
    return [(company.id, company.company_id) for company in companies]


@pytest.mark.parametrize("version", VERSIONS)
def test_tag_companies_by_intercom_id_and_your_id(intercom_sandbox, version):
    companies = add_companies(intercom_sandbox, 5)
    by_id = [companies[0][0], companies[1][0], "no-such-company"]
    by_external = [companies[2][1], companies[3][1], "ext-404"]
    report, _ = run(
        task(
            TagCompaniesOperator,
            tag_name="enterprise",
            company_ids=by_id,
            company_external_ids=by_external,
            batch_size=4,
            api_version=version,
            max_failed_ratio=0.5,
        )
    )
    assert_accounted(report)
    assert report["requested"] == 6
    assert report["succeeded"] == [companies[0][0], companies[1][0], "ext-2", "ext-3"]
    assert report["not_found"] == ["no-such-company", "ext-404"]
    tag = intercom_sandbox.state.find_tag_by_name("enterprise")
    tagged = {cid for cid, company in intercom_sandbox.state.companies.items() if tag.id in company.tags}
    assert tagged == {companies[n][0] for n in range(4)}


@pytest.mark.parametrize("version", VERSIONS)
def test_untag_companies_that_left_a_trial(intercom_sandbox, version):
    trial = intercom_sandbox.state.add_tag("trial")
    companies = add_companies(intercom_sandbox, 3, tags=[trial.id])
    report, _ = run(
        task(
            UntagCompaniesOperator,
            tag_name="trial",
            company_external_ids=[external for _, external in companies[:2]],
            api_version=version,
        )
    )
    assert_accounted(report)
    assert report["succeeded"] == ["ext-0", "ext-1"]
    untag_calls = [entry for entry in intercom_sandbox.requests if entry["method"] == "POST"]
    assert all(item["untag"] is True for entry in untag_calls for item in entry["body"]["companies"])
    state = intercom_sandbox.state.companies
    assert [trial.id in state[intercom_id].tags for intercom_id, _ in companies] == [False, False, True]


def test_untag_companies_never_creates_the_tag(intercom_sandbox):
    add_companies(intercom_sandbox, 1)
    with pytest.raises(IntercomTagNotFoundError):
        run(task(UntagCompaniesOperator, tag_name="never-existed", company_external_ids=["ext-0"]))
    assert writes(intercom_sandbox) == []


def test_companies_dry_run_looks_up_and_writes_nothing(intercom_sandbox):
    companies = add_companies(intercom_sandbox, 2)
    report = dry_run(
        intercom_sandbox,
        TagCompaniesOperator,
        company_ids=[companies[0][0]],
        company_external_ids=["ext-1", "ext-404"],
        max_failed_ratio=0.5,
    )
    assert report["succeeded"] == [companies[0][0], "ext-1"]
    assert report["not_found"] == ["ext-404"]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"tag_name": "a"}, "company_ids and company_external_ids are both empty"),
        ({"tag_name": "a", "company_ids": [""]}, r"company_ids\[0\]=''"),
        ({"tag_name": "a", "company_ids": ["1"], "batch_size": 100}, "batch_size=100"),
        ({"tag_name": "a", "tag_id": "1", "company_ids": ["1"]}, "got both"),
    ],
)
def test_companies_bad_input(intercom_sandbox, kwargs, pattern):
    with pytest.raises(IntercomConfigurationError, match=pattern):
        run(task(UntagCompaniesOperator, **kwargs))
    assert intercom_sandbox.requests == []


# -- conversations and tickets ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_tag_and_untag_conversations(intercom_sandbox, version):
    state = intercom_sandbox.state
    admin = state.primary_admin().id
    ids = [state.add_conversation().id for _ in range(2)]
    report, _ = run(
        task(
            TagConversationsOperator,
            conversation_ids=[*ids, "404"],
            admin_id=admin,
            tag_name="escalated",
            api_version=version,
            max_failed_ratio=0.5,
        )
    )
    assert_accounted(report)
    assert (report["succeeded"], report["not_found"]) == (ids, ["404"])
    tag = state.find_tag_by_name("escalated")
    assert all(tag.id in state.conversations[cid].tags for cid in ids)
    report, _ = run(
        task(TagConversationsOperator, conversation_ids=ids, admin_id=admin, tag_id=tag.id, untag=True)
    )
    assert report["succeeded"] == ids
    assert all(tag.id not in state.conversations[cid].tags for cid in ids)
    deletes = [entry for entry in intercom_sandbox.requests if entry["method"] == "DELETE"]
    assert [entry["body"] for entry in deletes] == [{"admin_id": admin}] * 2  # the DELETE carries a body


@pytest.mark.parametrize("version", ["2.10", "2.16"])
def test_tag_tickets(intercom_sandbox, version):
    state = intercom_sandbox.state
    ticket = state.add_ticket().id
    report, _ = run(
        task(
            TagTicketsOperator,
            ticket_ids=[ticket],
            admin_id=state.primary_admin().id,
            tag_name="billing",
            api_version=version,
        )
    )
    assert report["succeeded"] == [ticket]
    assert state.find_tag_by_name("billing").id in state.tickets[ticket].tags


def test_ticket_tagging_is_refused_on_2_9_before_any_request(intercom_sandbox):
    ticket = intercom_sandbox.state.add_ticket().id
    operator = task(
        TagTicketsOperator, ticket_ids=[ticket], admin_id="1", tag_name="billing", api_version="2.9"
    )
    with pytest.raises(IntercomConfigurationError, match=r"ticket tagging needs Intercom API 2.10 .*'2.9'"):
        run(operator)
    assert intercom_sandbox.requests == []


# -- delete a tag a segment uses -------------------------------------------------------------------------


def test_delete_tag_used_by_a_segment_names_the_segment(intercom_sandbox):
    tag = intercom_sandbox.state.add_tag("vip")
    intercom_sandbox.state.add_segment(name="Big spenders", tag_ids=[tag.id])
    with pytest.raises(IntercomTagInUseError, match=r"Tag 'vip' .* segments use it.*Big spenders"):
        run(task(DeleteTagOperator, tag_name="vip"))
    assert intercom_sandbox.state.find_tag_by_name("vip") is not None


# -- paced concurrency -----------------------------------------------------------------------------------


def test_untag_runs_calls_concurrently_and_keeps_input_order(monkeypatch):
    from airflow_provider_intercom.sandbox import IntercomSandbox

    with IntercomSandbox(latency_ms=150) as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps(sandbox.airflow_connection()))
        tag = sandbox.state.add_tag("trial")
        ids = [sandbox.state.add_contact(email=f"c{n}@example.com", tags=[tag.id]).id for n in range(12)]
        requested = [*ids[:6], "ghost", *ids[6:]]
        report, _ = run(
            task(
                UntagContactsOperator,
                tag_id=tag.id,
                contact_ids=requested,
                max_workers=6,
                max_failed_ratio=0.1,
            )
        )
        deletes = sorted(entry["time"] for entry in sandbox.requests if entry["method"] == "DELETE")
    assert report["succeeded"] == ids  # input order, whatever order the threads finished in
    assert report["not_found"] == ["ghost"]
    # Answers take 150 ms each: one at a time, no two calls would arrive within 150 ms of each other.
    close_pairs = sum(
        1 for earlier, later in zip(deletes, deletes[1:], strict=False) if later - earlier < 0.075
    )
    assert close_pairs >= 6


def test_paced_workers_stay_within_the_rate_limit(monkeypatch):
    from airflow_provider_intercom.sandbox import IntercomSandbox

    with IntercomSandbox(rate_limit=25, window_seconds=1) as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps(sandbox.airflow_connection()))
        tag = sandbox.state.add_tag("trial")
        ids = [sandbox.state.add_contact(email=f"c{n}@example.com", tags=[tag.id]).id for n in range(100)]
        report, _ = run(task(UntagContactsOperator, tag_id=tag.id, contact_ids=ids, max_workers=8))
        statuses = [entry["status"] for entry in sandbox.requests]
        carrying = [cid for cid in ids if tag.id in sandbox.state.contacts[cid].tags]
    assert report["succeeded"] == ids
    assert carrying == []
    assert statuses.count(429) <= len(statuses) * 0.05  # the pacer, not the 429s, does the throttling


def test_unauthorized_stops_concurrent_work_at_once(monkeypatch):
    import threading
    import time

    from airflow_provider_intercom.sandbox import IntercomSandbox

    with IntercomSandbox(latency_ms=20) as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_INTERCOM_DEFAULT", json.dumps(sandbox.airflow_connection()))
        tag = sandbox.state.add_tag("trial")
        ids = [sandbox.state.add_contact(email=f"c{n}@example.com", tags=[tag.id]).id for n in range(300)]

        def revoke_token_mid_run() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if sum(1 for entry in sandbox.requests if entry["method"] == "DELETE") >= 20:
                    monkeypatch.setattr(sandbox, "_token", "revoked")  # as if the token were revoked now
                    return
                time.sleep(0.005)

        watcher = threading.Thread(target=revoke_token_mid_run)
        watcher.start()
        with pytest.raises(IntercomUnauthorizedError):
            run(task(UntagContactsOperator, tag_id=tag.id, contact_ids=ids, max_workers=4))
        watcher.join(timeout=30)
        deletes = [entry for entry in sandbox.requests if entry["method"] == "DELETE"]
    # The first 401 stopped the task: the calls still queued were cancelled, not sent.
    assert 20 <= len(deletes) < 60
