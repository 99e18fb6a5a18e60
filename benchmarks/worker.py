"""
Bench subprocesses, run as ``python -m benchmarks.worker MODE ARGS``; each prints one JSON line last.

- ``untag-ours IDS_FILE MAX_WORKERS``: ``UntagContactsOperator`` on ``intercom_default``.
- ``untag-sdk IDS_FILE``: the SDK's sequential ``tags.untag_contact`` loop on the same connection.
- ``stream``: ``IntercomHook.search_contacts`` over every user; reports the count and peak RSS.

The untag modes print ``ready`` once imported, then wait for a line on stdin, so that several
processes start their work at the same moment.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def untag_ours(ids_file: str, max_workers: str) -> dict[str, Any]:
    """Untag with the provider's operator; ``max_workers`` 0 means the operator's default."""
    from benchmarks.clients import execute, report_counts, untag_operator

    ids = json.loads(Path(ids_file).read_text())
    operator, note = untag_operator(ids, "intercom_default", int(max_workers) or None)
    _ = operator.hook.settings  # resolve the connection before the start signal
    _wait_for_go()
    start = time.time()
    report = execute(operator)
    return {"start": start, "end": time.time(), "note": note, **report_counts(report)}


def untag_sdk(ids_file: str) -> dict[str, Any]:
    """Untag with the SDK, one contact after another, as its users write it."""
    from benchmarks.clients import sdk_client, sdk_untag_each

    ids = json.loads(Path(ids_file).read_text())
    client = sdk_client()
    _wait_for_go()
    start = time.time()
    counts = sdk_untag_each(client, ids)
    return {"start": start, "end": time.time(), "note": "", **counts}


def stream() -> dict[str, Any]:
    """Stream every user through the hook's search generator, keeping nothing; report peak RSS."""
    from airflow_provider_intercom.hooks.intercom import IntercomHook

    hook = IntercomHook()
    count = 0
    for _contact in hook.search_contacts({"field": "role", "operator": "=", "value": "user"}, per_page=150):
        count += 1
    # Linux reports ru_maxrss in KiB.
    return {"count": count, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


MODES = {"untag-ours": untag_ours, "untag-sdk": untag_sdk, "stream": stream}


def main(argv: list[str]) -> int:
    """Run one mode and print its JSON result."""
    if not argv or argv[0] not in MODES:
        print(f"usage: python -m benchmarks.worker {{{','.join(MODES)}}} ARGS", file=sys.stderr)
        return 2
    print(json.dumps(MODES[argv[0]](*argv[1:])), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
