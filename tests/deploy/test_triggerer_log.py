"""How e2e-deploy tells our trigger's blocking from another's, on lines a real triggerer logged."""

from __future__ import annotations

import json
from pathlib import Path

from tests.deploy.triggerer_log import blocks_by, slow_steps, trigger_names

OURS = "intercom_deploy_wait/manual__2026-12-06T19:06:48.339568+00:00/wait_for_late_tag/-1/1 (ID 2)"
PROBE = "blocking_probe/manual__2026-12-06T19:06:48.361984+00:00/defers/-1/1 (ID 1)"
# Logged while a deliberately blocking trigger (time.sleep in its run()) and ours ran side by side.
STARTUP_STEP = (
    "2026-12-06T19:06:43.949452Z [warning  ] Executing <Task pending name='Task-1' "
    "coro=<TriggerRunner.arun() running at .../triggerer_job_runner.py:1251> ...> "
    "took 0.125 seconds [asyncio]"
)
PROBE_STEP = (
    f"2026-12-06T19:06:56.538582Z [warning  ] Executing <Task pending name='{PROBE}' coro=<greenback_shim() "
    "running at .../greenback/_impl.py:119> ...> took 0.504 seconds [asyncio]"
)
WATCHDOG = (
    "2026-12-06T19:06:56.561101Z [info     ] Triggerer's async thread was blocked for 0.55 seconds, "
    "exceeding the configured warning threshold of 0.20 seconds. "
    "This is likely caused by a badly-written trigger."
)


def test_the_trigger_log_names_the_trigger(tmp_path: Path) -> None:
    log = tmp_path / "attempt=1.log.trigger.2.log"
    events = [f"trigger {OURS} starting", "No tag 'arrives-later' yet", "trigger completed"]
    log.write_text("\n".join(json.dumps({"event": event, "level": "info"}) for event in events))
    assert trigger_names(log) == [OURS]


def test_another_triggers_block_is_not_ours() -> None:
    log = "\n".join([STARTUP_STEP, PROBE_STEP, WATCHDOG])
    assert len(slow_steps(log)) == 2
    assert blocks_by(log, [OURS], "IntercomTagTrigger") == []


def test_our_triggers_block_is_found_by_its_name_or_class() -> None:
    ours = PROBE_STEP.replace(PROBE, OURS)
    assert blocks_by("\n".join([STARTUP_STEP, ours, WATCHDOG]), [OURS], "IntercomTagTrigger") == [ours]
    by_class = PROBE_STEP.replace("greenback_shim()", "IntercomTagTrigger.run()")
    assert blocks_by(by_class, [OURS], "IntercomTagTrigger") == [by_class]


def test_a_block_that_no_slow_step_explains_counts() -> None:
    assert blocks_by(WATCHDOG, [OURS], "IntercomTagTrigger") == [WATCHDOG]
