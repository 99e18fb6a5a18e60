"""
The table's rows, one registered function each, in table order.

A function gets a :class:`~benchmarks.common.Context` and returns one or more
:class:`~benchmarks.common.Row`; register it with ``@bench(title)``. A row that a later change
will fill in is reserved with ``placeholder(title, note)``. Nothing here asserts a timing.

Imports Airflow: import it only after ``common.bench_env`` has set the environment.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from benchmarks.clients import (
    execute,
    outcome_count,
    report_counts,
    sdk_client,
    sdk_create_tag,
    sdk_tag_each,
    sdk_untag_each,
    tag_operator,
    untag_operator,
)
from benchmarks.common import (
    TAG_NAME,
    Context,
    Row,
    Worker,
    bench,
    connection_env,
    contact_ids,
    run_json,
    run_together,
    sandbox,
    statuses,
    still_tagged,
)

BULK_BATCH = 50  # contacts per POST /tags, Intercom's advice


@contextmanager
def patched_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables (Airflow connections) for an in-process run, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def call_kinds(entries: Sequence[dict[str, Any]]) -> str:
    """Summarise a request log as e.g. ``202 POST /tags, 1 GET /tags``, most frequent first."""
    kinds = Counter(
        f"{entry['method']} {re.sub(r'/(?:[0-9a-f]{24}|[0-9]+)(?=/|$)', '/{id}', entry['path'])}"
        for entry in entries
    )
    return ", ".join(f"{count:,} {kind}" for kind, count in kinds.most_common())


def rate_settings(ctx: Context) -> dict[str, Any]:
    """The rate-limited sandbox of the untag rows."""
    sizes = ctx.sizes
    return {
        "rate_limit": sizes.rate_limit,
        "window_seconds": sizes.window_seconds,
        "latency_ms": sizes.latency_ms,
    }


def limit_label(ctx: Context) -> str:
    sizes = ctx.sizes
    return f"{sizes.rate_limit} calls/{sizes.window_seconds} s, {sizes.latency_ms} ms latency"


# -- 1. API calls to tag many contacts ----------------------------------------------------------------------


@bench("bulk tag: API calls")
def tag_calls(ctx: Context) -> list[Row]:
    """Count the calls each client makes to tag the same contacts, on API 2.11 and 2.16."""
    sizes = ctx.sizes
    known = contact_ids(sizes.tag_contacts)
    unknown = contact_ids(round(sizes.tag_contacts * sizes.unknown_share), prefix="65f")
    ids = list(known)
    shuffler = random.Random(6)
    for unknown_id in unknown:  # spread the unknown ids at fixed pseudo-random places
        ids.insert(shuffler.randrange(len(ids) + 1), unknown_id)
    floor = math.ceil(len(known) / BULK_BATCH)
    rows = []
    for version in ("2.11", "2.16"):
        with sandbox(known) as box, patched_env(connection_env(box, "bench_tag", version)):
            operator = tag_operator(ids, "bench_tag", version)
            box.state.clear_request_log()
            began = time.perf_counter()
            ours_counts = report_counts(execute(operator))
            ours_seconds = time.perf_counter() - began
            ours_log = box.requests
            ours_tagged = still_tagged(box, known)
        with sandbox(known) as box, patched_env(connection_env(box, "bench_tag_sdk", version)):
            client = sdk_client("AIRFLOW_CONN_BENCH_TAG_SDK")
            box.state.clear_request_log()
            began = time.perf_counter()
            sdk_counts = sdk_tag_each(client, ids, sdk_create_tag(client))
            sdk_seconds = time.perf_counter() - began
            sdk_calls = len(box.requests)
            sdk_tagged = still_tagged(box, known)
        problem = ours_tagged != len(known) or ours_counts["not_found"] != len(unknown)
        rows.append(
            Row(
                f"API calls to tag {len(known):,} existing contacts + {len(unknown):,} unknown ids "
                f"({sizes.unknown_share:.0%}), API {version}",
                len(ours_log),
                sdk_calls,
                "calls",
                floor,
                f"ours: TagContactsOperator, max_items={len(ids):,} ({call_kinds(ours_log)}; "
                f"{ours_tagged:,} tagged, "
                f"{ours_counts['not_found']:,} not found, {ours_seconds:.1f} s); "
                f"peer: SDK tags.create + tags.tag_contact per id ({sdk_tagged:,} tagged, "
                f"{sdk_counts['not_found']:,} not found, {sdk_seconds:.1f} s), measured in full; "
                f"floor: {BULK_BATCH} per call",
                problem=problem,
            )
        )
    return rows


# -- 2. untag with a thread pool under a rate limit ---------------------------------------------------------


@bench("untag: threads under a rate limit")
def untag_workers(ctx: Context) -> list[Row]:
    """Untag the same contacts with the operator's thread pool and with the SDK's sequential loop."""
    sizes = ctx.sizes
    ids = contact_ids(sizes.untag_contacts)
    with (
        sandbox(ids, tagged=True, **rate_settings(ctx)) as box,
        patched_env(connection_env(box, "bench_untag")),
    ):
        operator, fallback = untag_operator(ids, "bench_untag", sizes.untag_workers)
        _ = operator.hook.settings
        box.state.clear_request_log()
        began = time.perf_counter()
        ours_counts = report_counts(execute(operator))
        ours_seconds = time.perf_counter() - began
        ours_ok, ours_429 = statuses(box.requests)
        ours_left = still_tagged(box, ids)
    with (
        sandbox(ids, tagged=True, **rate_settings(ctx)) as box,
        patched_env(connection_env(box, "bench_sdk")),
    ):
        client = sdk_client("AIRFLOW_CONN_BENCH_SDK")
        box.state.clear_request_log()
        began = time.perf_counter()
        sdk_counts = sdk_untag_each(client, ids)
        sdk_seconds = time.perf_counter() - began
        sdk_ok, sdk_429 = statuses(box.requests)
        sdk_left = still_tagged(box, ids)
    name = (
        f"untag {len(ids):,} contacts, max_workers={sizes.untag_workers} vs SDK sequential "
        f"({limit_label(ctx)})"
    )
    outcome = (
        f"ours: {ours_counts['succeeded']:,} untagged, {ours_counts['failed']:,} failed, "
        f"{ours_left:,} left tagged; SDK: {sdk_counts['succeeded']:,} untagged, "
        f"{sdk_counts['failed']:,} failed, {sdk_left:,} left tagged"
    )
    extra = f"; {fallback}" if fallback else ""
    limit = sizes.rate_limit / sizes.window_seconds
    return [
        Row(
            f"{name}: wall time",
            ours_seconds,
            sdk_seconds,
            "s",
            note=f"SDK sends Intercom-Version, default options; {outcome}{extra}",
            problem=ours_left > 0,
        ),
        Row(
            f"{name}: calls/s as a share of the limit",
            ours_ok / ours_seconds / limit,
            sdk_ok / sdk_seconds / limit,
            "of limit",
            note="calls answered without 429 ÷ wall time ÷ limit (windows are epoch-aligned, so a run "
            "that straddles one can exceed 1)",
        ),
        Row(f"{name}: 429 answers", ours_429, sdk_429, note="from the sandbox request log"),
    ]


# -- 3. several processes share one budget ------------------------------------------------------------------


@bench("untag: processes sharing one budget")
def untag_processes(ctx: Context) -> list[Row]:
    """Several processes untag their own contacts at once against one rate-limited sandbox."""
    sizes = ctx.sizes
    ids = contact_ids(sizes.processes * sizes.per_process)
    bystanders = contact_ids(100, prefix="65c")  # tagged, in nobody's plan: must keep the tag
    files = []
    for number in range(sizes.processes):
        path = ctx.workdir / f"untag-{number}.json"
        path.write_text(json.dumps(ids[number * sizes.per_process : (number + 1) * sizes.per_process]))
        files.append(str(path))
    figures: dict[str, dict[str, Any]] = {}
    for who in ("ours", "sdk"):
        with sandbox([*ids, *bystanders], tagged=True, **rate_settings(ctx)) as box:
            env = {**ctx.env, **connection_env(box, "intercom_default")}
            workers = [
                Worker(
                    ["untag-ours", path, str(sizes.untag_workers)] if who == "ours" else ["untag-sdk", path],
                    env,
                    ctx.workdir / f"{who}-{number}.log",
                )
                for number, path in enumerate(files)
            ]
            started, ended, results = run_together(workers)
            ok, refused = statuses(box.requests)
            figures[who] = {
                "share": ok / (ended - started) / (sizes.rate_limit / sizes.window_seconds),
                "429": refused,
                "lost": still_tagged(box, ids) + len(bystanders) - still_tagged(box, bystanders),
                "failed": sum(result["failed"] for result in results),
                "seconds": ended - started,
                "notes": sorted({result["note"] for result in results if result["note"]}),
            }
    ours, sdk = figures["ours"], figures["sdk"]
    name = (
        f"{sizes.processes} processes × {sizes.per_process:,} untags at once, one sandbox "
        f"({limit_label(ctx)})"
    )
    how = (
        f"ours: UntagContactsOperator, max_workers={sizes.untag_workers} per process "
        f"({ours['seconds']:.1f} s); peer: the SDK's sequential loop per process ({sdk['seconds']:.1f} s)"
    )
    if ours["notes"]:
        how += "; " + "; ".join(ours["notes"])
    return [
        Row(
            f"{name}: throughput",
            ours["share"],
            sdk["share"],
            "of limit",
            note=f"calls answered without 429 ÷ (start signal → last process done) ÷ limit; {how}",
        ),
        Row(f"{name}: 429 answers", ours["429"], sdk["429"], note="from the sandbox request log"),
        Row(
            f"{name}: items lost",
            ours["lost"],
            sdk["lost"],
            note=f"sandbox end state vs the plan: planned contacts still tagged + {len(bystanders)} "
            f"unplanned ones untagged; must be 0 for ours (failures reported: ours {ours['failed']}, "
            f"SDK {sdk['failed']})",
            problem=ours["lost"] > 0,
        ),
    ]


# -- 4. import cost -----------------------------------------------------------------------------------------

IMPORT_PROBE = """
import importlib, json, sys, time
began = time.perf_counter()
import airflow.sdk
between = time.perf_counter()
importlib.import_module(sys.argv[1])
print(json.dumps([between - began, time.perf_counter() - between]))
"""
OUR_MODULE = "airflow_provider_intercom.operators.tags"
PEER_MODULE = "airflow.providers.http.operators.http"


@bench("import cost")
def import_cost(ctx: Context) -> list[Row]:
    """Time importing each operators module after ``airflow.sdk``, in fresh interpreters."""
    modules = {"ours": OUR_MODULE, "peer": PEER_MODULE}
    for module in modules.values():  # warm-up: byte-compile, settle the file cache
        run_json([ctx.python, "-c", IMPORT_PROBE, module], ctx.env)
    samples: dict[str, list[float]] = {key: [] for key in modules}
    baseline: list[float] = []
    for _ in range(ctx.sizes.import_runs):
        for key, module in modules.items():  # interleaved, so load changes hit both alike
            sdk_seconds, module_seconds = run_json([ctx.python, "-c", IMPORT_PROBE, module], ctx.env)
            samples[key].append(module_seconds * 1000)
            baseline.append(sdk_seconds * 1000)
    return [
        Row(
            "import cost over `import airflow.sdk`",
            statistics.median(samples["ours"]),
            statistics.median(samples["peer"]),
            "ms",
            note=f"median of {ctx.sizes.import_runs} fresh interpreters each; ours: {OUR_MODULE}; peer: "
            f"{PEER_MODULE}; timed in the same interpreter right after `import airflow.sdk`, "
            f"which alone took {statistics.median(baseline):.0f} ms (median)",
        )
    ]


# -- 5. memory while streaming ------------------------------------------------------------------------------


@bench("streaming search: peak RSS")
def stream_rss(ctx: Context) -> list[Row]:
    """Peak RSS of a process streaming many contacts through the hook, against a small stream."""
    sizes = ctx.sizes
    peaks: dict[int, float] = {}
    seconds: dict[int, float] = {}
    for count in (sizes.stream_big, sizes.stream_small):
        with sandbox(contact_ids(count)) as box:
            env = {**ctx.env, **connection_env(box, "intercom_default")}
            began = time.perf_counter()
            result = run_json([ctx.python, "-m", "benchmarks.worker", "stream"], env)
            seconds[count] = time.perf_counter() - began
        if result["count"] != count:
            raise RuntimeError(f"streamed {result['count']} contacts of {count}")
        peaks[count] = result["maxrss_kib"] / 1024
    big, small = sizes.stream_big, sizes.stream_small
    return [
        Row(
            f"peak RSS streaming {big:,} contacts through hook.search_contacts (peer: {small:,} contacts)",
            peaks[big],
            peaks[small],
            "MiB",
            note=f"one subprocess each, 150 per page, sandbox in the bench process; its VmHWM at the end; "
            f"≈1× means memory does not grow with the stream ({seconds[big]:.0f} s and "
            f"{seconds[small]:.0f} s)",
        )
    ]


# -- reserved rows ------------------------------------------------------------------------------------------


@bench("sync: desired state")
def sync_calls(ctx: Context) -> list[Row]:
    """Count the calls a sync makes against its floor: member pages, bulk additions, one untag each."""
    from airflow_provider_intercom.operators.sync import SyncContactTagOperator

    members, churn = ctx.sizes.sync_members, ctx.sizes.sync_churn
    current = contact_ids(members)
    newcomers = contact_ids(churn, prefix="65e")
    desired = current[churn:] + newcomers
    with sandbox(current, tagged=True) as box, patched_env(connection_env(box, "bench_sync")):
        for contact_id in newcomers:
            box.state.add_contact(id=contact_id, role="user")
        box.state.clear_request_log()
        operator = SyncContactTagOperator(
            task_id="bench_sync",
            intercom_conn_id="bench_sync",
            tag_name=TAG_NAME,
            contact_ids=desired,
            max_removals=churn,
            max_items=len(desired),
            max_workers=8,
        )
        began = time.perf_counter()
        report = execute(operator)
        seconds = time.perf_counter() - began
        log = box.requests
        # Every desired contact carries the tag, and none of the removed ones does.
        wrong = len(desired) - still_tagged(box, desired) + still_tagged(box, current[:churn])
    floor = math.ceil(members / 150) + math.ceil(churn / BULK_BATCH) + churn
    added, removed = outcome_count(report, "added"), outcome_count(report, "removed")
    return [
        Row(
            f"sync {members:,} vs {members:,} members, {churn:,} to add, {churn:,} to remove: API calls",
            len(log),
            None,
            "calls",
            floor,
            f"SyncContactTagOperator, max_workers=8 ({call_kinds(log)}; added {added:,}, "
            f"removed {removed:,}, {seconds:.1f} s); floor: member search pages of 150 + "
            f"bulk tags of {BULK_BATCH} + one untag per removal; no peer: the SDK has no sync",
            problem=bool(wrong),
        )
    ]
