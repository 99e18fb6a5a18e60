"""
A reviewed sync's plan: what a sync would add and remove, frozen to be read, approved and applied later.

Applied exactly as planned, or refused as stale (see ``apply_plan.py``).

A plan is plain JSON::

    {"type": "intercom_tag_plan", "format": 1, "objects": "contacts" | "companies",
     "tag": {"type", "id", "name"}, "api_version", "region", "created_at",
     "desired": n, "counts": {"add", "remove", "unchanged", "members"},
     "guard": null | "why a guard would refuse it",
     "fingerprint": {"members": n, "sha256": "..."},
     "members": [...], "add": [...], "remove": [...], "checksum": "..."}

``members`` are the tag's members when it was planned (Intercom ids); ``add`` and ``remove`` are contact
ids, or for companies ``{"id"}`` / ``{"company_id"}`` objects as they will be sent. ``checksum`` is the
SHA-256 of everything else, so an edited or truncated plan file is refused. A plan of more than
``max_xcom_items`` ids lives in a file at ``plan_path`` (a path or an object-storage URL); XCom then
holds its :func:`plan_summary`, which names the file and its checksum.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pendulum

from airflow_provider_intercom._validation import validate_positive_int
from airflow_provider_intercom.exceptions import IntercomConfigurationError
from airflow_provider_intercom.operators.id_files import open_text, shown_path
from airflow_provider_intercom.operators.report_store import open_target, validate_report_path

PLAN_TYPE = "intercom_tag_plan"
PLAN_FORMAT = 1
OBJECTS = ("contacts", "companies")
_LISTS = ("members", "add", "remove")  # what a summary leaves out
_UNCHECKED = ("checksum", "summary", "plan_path")  # added after planning, for readers
SUMMARY_ITEMS = 20  # removals and additions shown in the readable summary


def fingerprint(member_ids: Iterable[str]) -> dict[str, Any]:
    """
    Return a membership's fingerprint: how many members, and a SHA-256 of their sorted ids.

    :param member_ids: the Intercom ids of the tag's members.
    """
    ids = sorted(set(map(str, member_ids)))
    return {"members": len(ids), "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()}


def checksum(plan: Mapping[str, Any]) -> str:
    """
    Return the SHA-256 of a plan's canonical JSON, leaving out the checksum and the presentation keys.

    :param plan: the plan.
    """
    body = {key: value for key, value in plan.items() if key not in _UNCHECKED}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def build_plan(
    *,
    objects: str,
    tag: Mapping[str, Any],
    api_version: str,
    region: str,
    desired: int,
    members: list[str],
    add: list[Any],
    remove: list[Any],
    guard: str | None,
) -> dict[str, Any]:
    """
    Freeze a sync's difference as a plan, with its membership fingerprint and checksum.

    :param objects: ``contacts`` or ``companies``.
    :param tag: the tag (``id`` None when it does not exist yet).
    :param api_version: the Intercom API version it was planned on.
    :param region: the workspace's region.
    :param desired: the size of the desired set, resolved.
    :param members: the tag's members now (Intercom ids).
    :param add: what to tag, as it will be sent.
    :param remove: what to untag, as it will be sent.
    :param guard: why a guard would refuse the sync; None when none would.
    """
    plan: dict[str, Any] = {
        "type": PLAN_TYPE,
        "format": PLAN_FORMAT,
        "objects": objects,
        "tag": {"type": "tag", "id": tag.get("id"), "name": tag.get("name")},
        "api_version": api_version,
        "region": region,
        "created_at": pendulum.now("UTC").to_iso8601_string(),
        "desired": desired,
        "counts": {
            "add": len(add),
            "remove": len(remove),
            "unchanged": desired - len(add),
            "members": len(members),
        },
        "guard": guard,
        "fingerprint": fingerprint(members),
        "members": members,
        "add": add,
        "remove": remove,
    }
    plan["checksum"] = checksum(plan)
    return plan


def plan_summary(plan: Mapping[str, Any]) -> dict[str, Any]:
    """
    Return a plan without its id lists: what XCom holds when the plan itself is in a file.

    :param plan: the whole plan.
    """
    return {key: value for key, value in plan.items() if key not in _LISTS}


def plan_size(plan: Mapping[str, Any]) -> int:
    """
    Return how many ids a whole plan lists: its members, additions and removals.

    :param plan: the whole plan.
    """
    return sum(len(plan[key]) for key in _LISTS)


def describe_item(item: Any) -> str:
    """
    Name a planned item in text: a contact id, or a company by the keys it is sent with.

    :param item: an entry of a plan's ``add`` or ``remove``.
    """
    if isinstance(item, Mapping):
        return item.get("company_id") or item.get("id") or json.dumps(item)
    return str(item)


def plan_markdown(plan: Mapping[str, Any], tag_url: str | None = None) -> str:
    """
    Render a plan for a reviewer: counts, the guard that tripped, the first removals and additions.

    :param plan: the whole plan.
    :param tag_url: the tag's page in the Intercom web app, when known.
    """
    counts, tag = plan["counts"], plan["tag"]
    name = f"[{tag['name']}]({tag_url})" if tag_url else tag["name"]
    lines = [
        f"### Sync plan for the tag {name} ({plan['objects']})",
        "",
        f"- desired: {plan['desired']:,}; members now: {counts['members']:,}",
        f"- **remove {counts['remove']:,}**, add {counts['add']:,}, unchanged {counts['unchanged']:,}",
        f"- planned {plan['created_at']} on API {plan['api_version']} ({plan['region']})",
        f"- guard: {plan['guard']}" if plan["guard"] else "- guard: none tripped",
    ]
    for title, key in (("Removals", "remove"), ("Additions", "add")):
        items = plan[key]
        if not items:
            continue
        shown = ", ".join(f"`{describe_item(item)}`" for item in items[:SUMMARY_ITEMS])
        more = f" and {len(items) - SUMMARY_ITEMS:,} more" if len(items) > SUMMARY_ITEMS else ""
        lines += ["", f"**{title}** (first {min(len(items), SUMMARY_ITEMS)}): {shown}{more}"]
    return "\n".join(lines)


def publish_plan(
    plan: dict[str, Any], *, path: Any, conn_id: str | None, max_items: Any, tag_url: str | None
) -> dict[str, Any]:
    """
    Write the plan to ``path`` when given, and return what goes to XCom, with its readable ``summary``.

    :param plan: the whole plan.
    :param path: the plan file (a path or an object-storage URL), or None to keep it in XCom.
    :param conn_id: the object store's connection, for a URL.
    :param max_items: the most ids a plan may list in XCom.
    :param tag_url: the tag's page in the web app, for the summary.
    :raises IntercomConfigurationError: when the plan is too large for XCom and no path is given.
    """
    limit = validate_positive_int(max_items, "max_xcom_items")
    summary = plan_markdown(plan, tag_url)
    if path is None:
        if plan_size(plan) > limit:
            raise IntercomConfigurationError(
                f"plan_path=None: the plan lists {plan_size(plan):,} ids (members, additions and "
                f"removals), more than max_xcom_items={limit} lets XCom hold; give plan_path, a path "
                "or an object-storage URL for the plan file"
            )
        return {**plan, "summary": summary}
    target = validate_report_path(path, "plan_path")
    with open_target(target, conn_id) as handle:
        json.dump(plan, handle, separators=(",", ":"))
    return {**plan_summary(plan), "plan_path": target, "summary": summary}


@dataclass(frozen=True)
class PlanSource:
    """
    Where an apply task takes its plan from: the plan itself, its XCom summary, or a path.

    :param plan: a whole plan, or the summary a plan task put in XCom (which names the file).
    :param path: the plan file, when ``plan`` is not given.
    :param conn_id: the object store's connection, for a URL.
    """

    plan: Any
    path: Any
    conn_id: str | None

    def load(self) -> dict[str, Any]:
        """Return the whole plan, checked: its shape, its checksum, and the summary's checksum."""
        plan, path = self.plan, self.path
        if isinstance(plan, str) and plan.strip() in ("", "None", "null"):
            plan = None  # what a template renders for a missing XCom
        if plan is None and (path is None or str(path).strip() in ("", "None", "null")):
            raise IntercomConfigurationError(
                f"plan={self.plan!r} and plan_path={self.path!r}: give a plan (a plan task's XCom) "
                "or plan_path"
            )
        if plan is not None and not isinstance(plan, Mapping):
            raise IntercomConfigurationError(
                f"plan must be a plan task's XCom (a dict), not {type(plan).__name__}"
            )
        expected = None
        if plan is not None and "plan_path" in plan and not all(key in plan for key in _LISTS):
            expected, path = plan.get("checksum"), plan["plan_path"]
            plan = None
        whole = dict(plan) if plan is not None else _read_plan(str(path).strip(), self.conn_id)
        _check_plan(whole, where=shown_path(str(path)) if plan is None else "plan")
        if expected is not None and whole["checksum"] != expected:
            raise IntercomConfigurationError(
                f"plan_path {shown_path(str(path))!r} holds another plan than the one this task was given "
                f"(checksum {whole['checksum'][:12]}, expected {str(expected)[:12]})"
            )
        return whole


def _read_plan(path: str, conn_id: str | None) -> dict[str, Any]:
    shown = shown_path(path)
    with open_text(path, conn_id, field="plan_path") as handle:
        try:
            text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise IntercomConfigurationError(f"plan_path {shown!r} cannot be read: {error}") from None
    try:
        plan = json.loads(text)
    except ValueError:
        raise IntercomConfigurationError(
            f"plan_path {shown!r} is not a whole plan: its JSON is cut short or damaged ({len(text)} bytes)"
        ) from None
    if not isinstance(plan, dict):
        raise IntercomConfigurationError(f"plan_path {shown!r} holds no plan")
    return plan


def _check_plan(plan: dict[str, Any], *, where: str) -> None:
    if plan.get("type") != PLAN_TYPE or plan.get("format") != PLAN_FORMAT:
        raise IntercomConfigurationError(
            f"{where} is not an Intercom tag plan of format {PLAN_FORMAT} (type={plan.get('type')!r}, "
            f"format={plan.get('format')!r}); make one with a sync's plan_only=True"
        )
    missing = [key for key in (*_LISTS, "checksum", "objects", "tag", "api_version") if key not in plan]
    if missing:
        raise IntercomConfigurationError(f"{where} lacks {', '.join(missing)}: it is not a whole plan")
    if checksum(plan) != plan["checksum"]:
        raise IntercomConfigurationError(
            f"{where} was changed after it was planned: its checksum does not match its content; "
            "plan again rather than edit a plan"
        )
    if plan["objects"] not in OBJECTS:
        raise IntercomConfigurationError(
            f"{where}: objects={plan['objects']!r} must be one of: contacts, companies"
        )
