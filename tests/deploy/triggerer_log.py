"""
Which of the triggerer's complaints about a blocked event loop are our trigger's doing.

The triggerer's watchdog says only that its loop "was blocked", not by what. Run with
``PYTHONASYNCIODEBUG=1``, asyncio also logs each step that held the loop over 100 ms as
``Executing <Task pending name='<trigger name>' ...> took 0.504 seconds``, and the triggerer names each
trigger's task after the trigger (``<dag>/<run>/<task>/<map index>/<try> (ID n)``), as the trigger's own
log says when it starts.
"""

from __future__ import annotations

import json
from pathlib import Path

BLOCKED = "async thread was blocked"
STARTING = " starting"


def trigger_names(trigger_log: Path) -> list[str]:
    """
    Return the names the triggerer gave the trigger in its log (one per start).

    :param trigger_log: a ``*.log.trigger.<n>.log`` file of the task (JSON lines).
    """
    names = []
    for line in trigger_log.read_text().splitlines():
        event = str(json.loads(line).get("event", "")) if line.startswith("{") else ""
        if event.startswith("trigger ") and event.endswith(STARTING):
            names.append(event[len("trigger ") : -len(STARTING)])
    return names


def slow_steps(triggerer_log: str) -> list[str]:
    """Return asyncio's lines about a step that held the event loop too long."""
    return [line for line in triggerer_log.splitlines() if "Executing <" in line and " took " in line]


def blocks_by(triggerer_log: str, names: list[str], trigger_class: str) -> list[str]:
    """
    Return the lines that show these triggers blocking the loop.

    A slow step counts when it names one of the triggers or their class. A watchdog warning with no
    slow step logged at all cannot be told apart, so it counts too.

    :param triggerer_log: the triggerer's whole output.
    :param names: the triggers' names (see :func:`trigger_names`).
    :param trigger_class: the trigger's class name.
    """
    slow = slow_steps(triggerer_log)
    ours = [line for line in slow if trigger_class in line or any(f"name='{name}'" in line for name in names)]
    blocked = [line for line in triggerer_log.splitlines() if BLOCKED in line]
    return ours + (blocked if not slow else [])
