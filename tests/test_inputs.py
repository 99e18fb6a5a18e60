"""
Warehouse rows as input: SQL result rows, dict rows with ``id_key``, and ``ids_file`` (CSV, JSON lines, text).

The operators run against the sandbox; the ``inputs`` tests pin the reading rules themselves.
"""

from __future__ import annotations

import gzip
import inspect
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intercom.exceptions import IntercomConfigurationError
from airflow_provider_intercom.links.tags import TAG_LINK_XCOM_KEY
from airflow_provider_intercom.operators import id_files
from airflow_provider_intercom.operators.inputs import gather_ids, normalize_ids, read_ids_file
from airflow_provider_intercom.operators.tags import (
    TagCompaniesOperator,
    TagContactsOperator,
    TagConversationsOperator,
    TagTicketsOperator,
    UntagContactsOperator,
)


class RecordingTaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:
        # These runs succeed, so the report is returned, never pushed early; the tag link may be.
        if key != TAG_LINK_XCOM_KEY:
            raise AssertionError(f"these runs succeed: only the tag link may be pushed, not {key!r}")


def run(operator_class, **kwargs: Any) -> dict[str, Any]:
    return operator_class(task_id="t", **kwargs).execute({"ti": RecordingTaskInstance()})


def add_contacts(sandbox, count: int) -> list[Any]:
    return [
        sandbox.state.add_contact(email=f"row{n}@example.com", external_id=f"ext-{n}", role="user")
        for n in range(count)
    ]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run_on_column(operator_class, path: Path, id_key: str, field: str, **kwargs: Any) -> dict[str, Any]:
    """Run an operator on the ``id_key`` column of a file's rows, read in as its ``field`` argument."""
    return run(operator_class, ids_file=str(path), id_key=id_key, ids_file_field=field, **kwargs)


# -- the operators on the sandbox ----------------------------------------------------------------------------


def test_rows_of_a_sql_task_tag_contacts(intercom_sandbox):
    contacts = add_contacts(intercom_sandbox, 3)
    rows = [(contact.id,) for contact in contacts]  # SQLExecuteQueryOperator: SELECT id FROM ...
    report = run(TagContactsOperator, tag_name="churn-risk", contact_ids=rows)
    assert report["succeeded"] == [contact.id for contact in contacts]
    tag = intercom_sandbox.state.find_tag_by_name("churn-risk")
    assert all(tag.id in intercom_sandbox.state.contacts[contact.id].tags for contact in contacts)


def test_rows_after_a_json_round_trip_tag_by_email(intercom_sandbox):
    contacts = add_contacts(intercom_sandbox, 2)
    rows = json.loads(json.dumps([(contact.email,) for contact in contacts]))  # tuples became lists
    intercom_sandbox.state.add_tag("vip")
    report = run(UntagContactsOperator, tag_name="vip", emails=rows, dry_run=True)
    assert report["succeeded"] == [contact.email for contact in contacts]


def test_dict_rows_with_id_key(intercom_sandbox):
    contacts = add_contacts(intercom_sandbox, 2)
    rows = [{"email": contact.email, "plan": "pro", "seats": 3} for contact in contacts]
    report = run(TagContactsOperator, tag_name="churn-risk", emails=rows, id_key="email")
    assert report["succeeded"] == [contact.email for contact in contacts]
    assert report["resolved"]["emails"] == {contact.email: [contact.id] for contact in contacts}


def test_csv_file_of_emails(intercom_sandbox, tmp_path):
    contacts = add_contacts(intercom_sandbox, 3)
    lines = ["email,plan,note", *(f'{c.email},pro,"says ""hi"", twice"' for c in contacts), "", ""]
    path = write(tmp_path / "churn.csv", "\n".join(lines))
    report = run_on_column(TagContactsOperator, path, "email", "emails", tag_name="churn-risk")
    assert report["succeeded"] == [contact.email for contact in contacts]


def test_ids_file_adds_to_the_list_argument(intercom_sandbox, tmp_path):
    contacts = add_contacts(intercom_sandbox, 3)
    path = write(tmp_path / "ids.txt", f"{contacts[1].id}\n{contacts[2].id}\n")
    report = run(
        TagContactsOperator, tag_name="a", contact_ids=[contacts[0].id, contacts[1].id], ids_file=path
    )
    assert report["requested"] == 3  # the list first, then the file, duplicates dropped
    assert report["succeeded"] == [contact.id for contact in contacts]


def test_json_lines_file_of_company_ids(intercom_sandbox, tmp_path):
    companies = [
        intercom_sandbox.state.add_company(company_id=f"acme-{n}", name=f"Acme {n}") for n in range(3)
    ]
    lines = [json.dumps({"company_id": company.company_id, "mrr": 10}) for company in companies]
    path = write(tmp_path / "trials.ndjson", "\n".join(lines) + "\n")
    report = run_on_column(TagCompaniesOperator, path, "company_id", "company_external_ids", tag_name="trial")
    assert report["succeeded"] == [company.company_id for company in companies]
    tag = intercom_sandbox.state.find_tag_by_name("trial")
    assert all(tag.id in intercom_sandbox.state.companies[company.id].tags for company in companies)


def test_plain_text_file_of_conversation_ids(intercom_sandbox, tmp_path):
    state = intercom_sandbox.state
    ids = [state.add_conversation().id for _ in range(2)]
    path = write(tmp_path / "conversations", f"  {ids[0]}  \n\n{ids[1]}\r\n")
    report = run(
        TagConversationsOperator, tag_name="escalated", admin_id=state.primary_admin().id, ids_file=str(path)
    )
    assert report["succeeded"] == ids


def test_json_lines_of_plain_ids_for_tickets(intercom_sandbox, tmp_path):
    state = intercom_sandbox.state
    ticket = state.add_ticket().id
    path = write(tmp_path / "tickets.jsonl", json.dumps(ticket) + "\n")
    report = run(
        TagTicketsOperator, tag_name="billing", admin_id=state.primary_admin().id, ids_file=path, dry_run=True
    )
    assert report["succeeded"] == [ticket]


def test_ids_file_and_id_key_are_templated(tmp_path):
    import pendulum
    from airflow.providers.common.compat.sdk import DAG

    path = write(tmp_path / "2026-01-01.csv", "email\na@example.com\n")
    with DAG("render", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        operator = TagContactsOperator(
            task_id="t",
            tag_name="a",
            ids_file=str(tmp_path) + "/{{ params.day }}.csv",
            id_key="{{ params.key }}",
            ids_file_field="emails",
        )
    operator.render_template_fields({"params": {"day": "2026-01-01", "key": "email"}})
    assert (operator.ids_file, operator.id_key) == (str(path), "email")
    assert operator._id_inputs()["emails"] == ["a@example.com"]


BAD = [
    ("multi-column tuples", {"contact_ids": [("1", "a@example.com")]}, r"contact_ids\[0\]=.* holds 2 values"),
    ("multi-column lists", {"emails": [["a@x.io", 3]]}, r"emails\[0\]=.*set id_key"),
    ("dicts without id_key", {"emails": [{"email": "a@x.io"}]}, r"emails\[0\] is a row .*set id_key"),
    ("dicts missing id_key", {"emails": [{"mail": "a@x.io"}], "id_key": "email"}, "no column id_key='email'"),
    (
        "a NULL in a dict row",
        {"emails": [{"email": None}], "id_key": "email"},
        r"emails\[0\]\['email'\]=None",
    ),
    ("tuples with id_key", {"contact_ids": [("1", "2")], "id_key": "id"}, "no column names, so id_key='id'"),
    ("an empty row", {"contact_ids": [()]}, r"contact_ids\[0\]=\(\) is an empty row"),
    (
        "id_key not a name",
        {"contact_ids": ["1"], "id_key": " "},
        "id_key=' ' must be a non-empty column name",
    ),
    (
        "wrong ids_file_field",
        {"ids_file": "x.txt", "ids_file_field": "ids"},
        "ids_file_field='ids' must be one of",
    ),
]


@pytest.mark.parametrize(("kwargs", "pattern"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_rows_are_refused_before_any_request(intercom_sandbox, kwargs, pattern):
    with pytest.raises(IntercomConfigurationError, match=pattern):
        run(TagContactsOperator, tag_name="a", **kwargs)
    assert intercom_sandbox.requests == []


BAD_FILES = [
    (
        "ids.csv",
        "email,plan\na@x.io,pro\n",
        {},
        r"'ids.csv', line 1: a CSV file needs id_key.*'email', 'plan'",
    ),
    ("ids.csv", "mail\na@x.io\n", {"id_key": "email"}, r"line 1: the header has no column id_key='email'"),
    ("ids.csv", "plan,email\npro,a@x.io\npro\n", {"id_key": "email"}, r"line 3: the row has 1 cells"),
    ("ids.csv", "email,plan\n,pro\n", {"id_key": "email"}, r"line 2: column 'email' is empty"),
    ("ids.jsonl", '"a"\n{"email": \n', {}, r"'ids.jsonl', line 2: not a JSON value"),
    ("ids.jsonl", '{"email": "a@x.io"}\n', {}, r"line 1: an object: set id_key"),
    (
        "ids.jsonl",
        '{"mail": "a@x.io"}\n',
        {"id_key": "email"},
        r"line 1: the object has no field id_key='email'",
    ),
    ("ids.ndjson", '\n{"email": null}\n', {"id_key": "email"}, r"line 2: field 'email' None is not an id"),
    ("ids.txt", "a\nb,c\n", {}, r"'ids.txt', line 2: 'b,c' holds several values"),
    ("missing.txt", None, {}, r"'missing.txt' cannot be read"),
]


@pytest.mark.parametrize(
    ("name", "text", "kwargs", "pattern"), BAD_FILES, ids=[case[3] for case in BAD_FILES]
)
def test_bad_files_name_the_file_and_line_before_any_request(
    intercom_sandbox, tmp_path, monkeypatch, name, text, kwargs, pattern
):
    monkeypatch.chdir(tmp_path)  # relative names keep the messages short to match
    if text is not None:
        write(tmp_path / name, text)
    with pytest.raises(IntercomConfigurationError, match=pattern):
        run(TagContactsOperator, tag_name="a", ids_file=name, ids_file_field="emails", **kwargs)
    assert intercom_sandbox.requests == []


def test_a_100k_line_file_is_streamed(intercom_sandbox, tmp_path, monkeypatch):
    path = tmp_path / "ids.txt"
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(f"contact-{n:06d}\n" for n in range(100_000))

    class NoWholeReads:
        """A file that may be read only in bounded pieces: a read of everything fails the test."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

        def read(self, size: int | None = -1) -> Any:
            if size is None or size < 0 or size > 1 << 20:
                raise AssertionError("the ids file was read whole")
            return self.handle.read(size)

        def readlines(self, *args: Any) -> Any:
            raise AssertionError("the ids file was read whole")

    real_open = open
    monkeypatch.setattr(id_files, "open", lambda *a, **k: NoWholeReads(real_open(*a, **k)), raising=False)
    assert inspect.isgenerator(read_ids_file(path))
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_ids_file(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    assert peak < path.stat().st_size / 10  # a 1.5 MB file, read with well under 150 kB
    report = run(TagContactsOperator, tag_name="a", ids_file=str(path), dry_run=True, max_items=100_000)
    assert report["requested"] == 100_000
    assert [entry["path"] for entry in intercom_sandbox.requests] == ["/tags"]  # only the tag lookup


def test_a_file_over_max_items_is_refused(intercom_sandbox, tmp_path):
    path = write(tmp_path / "ids.txt", "".join(f"{n}\n" for n in range(11)))
    with pytest.raises(IntercomConfigurationError, match="11 items, more than max_items=10"):
        run(TagConversationsOperator, tag_name="a", admin_id="1", ids_file=str(path), max_items=10)
    assert intercom_sandbox.requests == []


# -- the reading rules (inputs) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "id_key", "expected"),
    [
        ([("a",), ("b",), ("a",)], None, ["a", "b"]),  # one-column rows, deduplicated
        ([["a"], [" b "], [7]], None, ["a", "b", "7"]),  # after a JSON round trip
        (["a", ("b",), {"id": "c"}], "id", ["a", "b", "c"]),  # mixed; plain ids ignore id_key
        ([{"email": "a@x.io", "n": 1}, {"email": "b@x.io"}], "email", ["a@x.io", "b@x.io"]),
        ([("a",)], "email", ["a"]),  # a one-column tuple needs no name
        ('[["a"], ["b"]]', None, ["a", "b"]),  # a JSON string of rows
        ("[('a',), ('b',)]", None, ["a", "b"]),  # what a non-native template renders from rows
        ('[{"id": "a"}]', "id", ["a"]),
        ("a, b c", None, ["a", "b", "c"]),
        ((row for row in [("a",), ("b",)]), None, ["a", "b"]),  # a cursor-like generator
        (None, "id", []),
    ],
)
def test_normalize_ids_reads_rows(value, id_key, expected):
    assert normalize_ids(value, "ids", id_key=id_key) == expected


@pytest.mark.parametrize(
    ("value", "id_key", "pattern"),
    [
        (
            [["a", "b"], ["c", "d"]],
            None,
            r"ids\[0\]=\['a', 'b'\] holds 2 values",
        ),  # rows or chunks: not guessed
        ([("a", "a@x.io")], None, r"ids\[0\]=.*Select only the id column"),
        ([("a", "a@x.io")], "email", r"ids\[0\]=.*no column names, so id_key='email' cannot pick one"),
        ([{"id": "a"}], None, r"ids\[0\] is a row with named columns \('id'\)"),
        ([{"id": ["a"]}], "id", r"ids\[0\]\['id'\]=\['a'\] is not an id"),
        ([[("a",)]], None, r"ids\[0\]\[0\]=\('a',\) is not an id"),
        ([[None]], None, r"ids\[0\]\[0\]=None is not an id"),
        ("[('a', 1]", None, "not a valid JSON list"),
        ({"id": "a"}, "id", "must be a list of ids"),
        (["a"], 5, "id_key=5 must be a non-empty column name"),
    ],
)
def test_normalize_ids_refuses_ambiguous_shapes(value, id_key, pattern):
    with pytest.raises(IntercomConfigurationError, match=pattern):
        normalize_ids(value, "ids", id_key=id_key)


def test_mapped_outputs_are_read_one_by_one():
    try:
        from airflow.sdk.execution_time.lazy_sequence import LazyXComSequence as Lazy
    except ImportError:  # Airflow 2
        from airflow.models.xcom import LazyXComSelectSequence as Lazy

    class Mapped(Lazy):
        """What a mapped task's XComArg resolves to downstream, without a running task."""

        outputs: list[Any] = [["a", "b", "c"], ["d", "a"], None, [("e",)]]

        def __iter__(self) -> Iterator[Any]:
            return iter(self.outputs)

        def __len__(self) -> int:
            return len(self.outputs)

    mapped = Mapped.__new__(Mapped)
    assert normalize_ids(mapped, "contact_ids") == ["a", "b", "c", "d", "e"]
    Mapped.outputs = [["a"], [("b", "b@x.io")]]
    with pytest.raises(IntercomConfigurationError, match=r"contact_ids\[1\]\[0\]=.* holds 2 values"):
        normalize_ids(mapped, "contact_ids")


def test_gather_ids_puts_the_list_first_then_the_file(tmp_path):
    path = write(tmp_path / "more.jsonl", '{"email": "b@x.io"}\n"c@x.io"\n7\n')
    assert gather_ids([("a@x.io",), ("b@x.io",)], "emails", id_key="email", ids_file=path) == [
        "a@x.io",
        "b@x.io",
        "c@x.io",
        "7",
    ]


def test_csv_reader_handles_quotes_bom_and_blank_lines(tmp_path):
    path = tmp_path / "export.CSV"
    path.write_text('\ufeffid,"note"\n"x-1","a, b"\n\n"x-2","line\nbreak"\nx-3,\n', encoding="utf-8")
    assert list(read_ids_file(path, id_key="id")) == ["x-1", "x-2", "x-3"]


def test_an_empty_file_holds_no_ids(tmp_path):
    for name in ("empty.csv", "empty.jsonl", "empty.txt"):
        assert list(read_ids_file(write(tmp_path / name, ""), id_key="id")) == []


# -- compressed exports and object storage ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "id_key"),
    [
        ("churn.csv.gz", "email,score\nrow0@example.com,0.9\nrow1@example.com,0.8\n", "email"),
        ("churn.jsonl.gz", '{"email": "row0@example.com"}\n{"email": "row1@example.com"}\n', "email"),
        ("churn.txt.gz", "row0@example.com\nrow1@example.com\n", None),
    ],
)
@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_gzip_exports_stream_from_a_path_or_an_object_storage_url(
    intercom_sandbox, tmp_path, name, text, id_key, as_url
):
    add_contacts(intercom_sandbox, 2)
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()))
    ids_file = path.as_uri() if as_url else str(path)  # file:// goes through ObjectStoragePath
    report = run(
        TagContactsOperator, tag_name="churn", ids_file=ids_file, ids_file_field="emails", id_key=id_key
    )
    assert report["succeeded"] == ["row0@example.com", "row1@example.com"]


def test_a_corrupt_gzip_file_is_refused_before_any_write(intercom_sandbox, tmp_path):
    path = tmp_path / "churn.txt.gz"
    whole = gzip.compress("".join(f"row{n}@example.com\n" for n in range(5000)).encode())
    path.write_bytes(whole[: len(whole) // 2])  # cut short, as by a failed upload
    with pytest.raises(IntercomConfigurationError, match=r"ids_file '.*churn.txt.gz' cannot be read"):
        run(TagContactsOperator, tag_name="churn", ids_file=str(path), ids_file_field="emails")
    assert intercom_sandbox.requests == []


def test_an_unreadable_url_names_the_path_but_never_its_credentials(intercom_sandbox):
    url = "nosuchstore://svc-user:s3cr3t-pass@bucket/exports/churn.csv.gz"
    with pytest.raises(
        IntercomConfigurationError,
        match=r"ids_file 'nosuchstore://bucket/exports/churn.csv.gz' cannot be read",
    ) as caught:
        run(TagContactsOperator, tag_name="churn", ids_file=url, id_key="email", ids_file_conn_id="my_store")
    assert "s3cr3t-pass" not in str(caught.value)
    assert "svc-user" not in str(caught.value)
    assert intercom_sandbox.requests == []
