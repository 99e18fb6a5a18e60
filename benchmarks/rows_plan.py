"""
Bench row for reviewed syncs: a 100,000-id plan made with ``plan_only=True``, kept out of XCom in a
``plan_path`` file, then applied from that file.
"""

from __future__ import annotations

import json
import math
import time

from benchmarks.clients import execute
from benchmarks.common import (
    TAG_NAME,
    Context,
    Row,
    bench,
    connection_env,
    contact_ids,
    sandbox,
    still_tagged,
)
from benchmarks.rows import BULK_BATCH, patched_env


@bench("reviewed sync: a 100,000-id plan")
def reviewed_plan(ctx: Context) -> list[Row]:
    """Plan a large sync to a file, apply it from there: bytes in XCom, the file, calls against the floor."""
    from airflow_provider_intercom.operators.sync import ApplyTagPlanOperator, SyncContactTagOperator

    members, churn = ctx.sizes.sync_members, ctx.sizes.sync_churn
    current = contact_ids(members - 2 * churn)  # the plan lists members, additions and removals
    newcomers = contact_ids(churn, prefix="65f")
    desired = current[churn:] + newcomers
    plan_path = ctx.workdir / "plans" / "bench.json"
    with (
        sandbox(current, tagged=True, untagged=newcomers) as box,
        patched_env(connection_env(box, "bench_plan")),
    ):
        common = {"intercom_conn_id": "bench_plan", "tag_name": TAG_NAME}
        began = time.perf_counter()
        summary = execute(
            SyncContactTagOperator(
                task_id="plan",
                contact_ids=desired,
                plan_only=True,
                plan_path=str(plan_path),
                max_items=len(desired),
                **common,
            )
        )
        planned_s, plan_calls = time.perf_counter() - began, len(box.requests)
        box.state.clear_request_log()
        began = time.perf_counter()
        report = execute(ApplyTagPlanOperator(task_id="apply", plan=summary, max_workers=8, **common))
        applied_s, apply_calls = time.perf_counter() - began, len(box.requests)
        wrong = len(desired) - still_tagged(box, desired) + still_tagged(box, current[:churn])
    plan_ids = len(current) + 2 * churn
    member_pages = math.ceil(len(current) / 150)
    note = f"the guard tripped: {summary['guard']}" if summary["guard"] else "no guard tripped"
    return [
        Row(
            f"reviewed sync, a {plan_ids:,}-id plan ({len(current):,} members, {churn:,} in and out): "
            "bytes in XCom, plan task (its summary) vs the plan file",
            len(json.dumps(summary)),
            plan_path.stat().st_size,
            "B",
            note=f"goal: under 64 KB in XCom; {note}; planned in {planned_s:.0f} s with {plan_calls:,} calls",
        ),
        Row(
            "… apply from plan_path: API calls",
            apply_calls,
            None,
            "calls",
            member_pages + math.ceil(churn / BULK_BATCH) + churn,
            note=f"floor: member pages of 150 (the drift check) + bulk tags of {BULK_BATCH} + one untag "
            f"per removal; above it: GET /tags/{{id}}, GET /me ({applied_s:.0f} s; XCom "
            f"{len(json.dumps(report)):,} B)",
            problem=bool(wrong),
        ),
    ]
