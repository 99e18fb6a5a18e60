"""
A tag's membership: who carries it now, and the paced, exact writes that change it.

The two syncs and :class:`~airflow_provider_intercom.operators.apply_plan.ApplyTagPlanOperator` read
and change a tag's members the same way, so a plan applied later goes through the very machinery a
sync would have used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.bulk import BulkWriter
from airflow_provider_intercom.operators.report import ItemReport

MEMBER_PAGE_CONTACTS = 150  # the most a contact search returns per page
MEMBER_PAGE_COMPANIES = 50


def contact_members(hook: IntercomHook, tag: Mapping[str, Any]) -> list[str]:
    """
    Return the ids of the contacts that carry the tag, in the order search gives them.

    :param hook: the task's hook.
    :param tag: the tag; no request when its id is None (it does not exist yet).
    """
    if tag.get("id") is None:
        return []
    query = {"field": "tag_id", "operator": "=", "value": tag["id"]}
    found = hook.search_contacts(query, per_page=MEMBER_PAGE_CONTACTS)
    return list(dict.fromkeys(contact["id"] for contact in found))


def company_members(hook: IntercomHook, tag: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """
    Return the companies that carry the tag, by Intercom id.

    :param hook: the task's hook.
    :param tag: the tag; no request when its id is None (it does not exist yet).
    """
    if tag.get("id") is None:
        return {}
    found = hook.list_companies(tag_id=tag["id"], per_page=MEMBER_PAGE_COMPANIES)
    return {str(company["id"]): company for company in found}


def member_keys(companies: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """
    Return every member company's keys: Intercom's id and your ``company_id``, either of which a plan names.

    :param companies: the members, by Intercom id, as :func:`company_members` returns them.
    """
    return {
        member: {member, str(company.get("company_id") or member)} for member, company in companies.items()
    }


def company_payload(company: Mapping[str, Any]) -> dict[str, str]:
    """
    Return what an untag call sends for a member company: 2.11's schema asks for both of its ids.

    :param company: the company as Intercom lists it.
    """
    payload = {"id": str(company["id"])}
    if company.get("company_id"):
        payload["company_id"] = str(company["company_id"])
    return payload


def write_contact_changes(
    hook: IntercomHook,
    log: Any,
    tag: dict[str, Any],
    adds: ItemReport,
    removes: ItemReport,
    *,
    batch_size: int,
    max_workers: int,
) -> dict[str, Any]:
    """
    Tag the additions in bulk, then untag the removals one by one (there is no bulk untag for contacts).

    :param hook: the task's hook.
    :param log: the task's log.
    :param tag: the tag; created by the first addition when its id is None.
    :param adds: the contact ids to tag; each gets its outcome.
    :param removes: the contact ids to untag; each gets its outcome.
    :param batch_size: contacts per bulk call.
    :param max_workers: untag calls in flight at once.
    :return: the tag, with its id once an addition created it.
    """
    if adds.items:
        BulkWriter(hook, log, adds).tag_contacts(tag["name"], batch_size)
        if tag["id"] is None:  # the first addition created it
            tag = hook.find_tag_by_name(tag["name"]) or tag
    if removes.items:
        tag_id = tag["id"]
        BulkWriter(hook, log, removes).each(
            lambda contact_id: hook.untag_contact(contact_id, tag_id), "untagged", "contacts", max_workers
        )
    return tag


def write_company_changes(
    hook: IntercomHook,
    log: Any,
    tag: dict[str, Any],
    adds: ItemReport,
    removes: ItemReport,
    payloads: Mapping[str, dict[str, str]],
    *,
    batch_size: int,
) -> dict[str, Any]:
    """
    Tag the additions, then untag the removals, in separate bulk calls (never one mixed request).

    :param hook: the task's hook.
    :param log: the task's log.
    :param tag: the tag; created by the first addition when its id is None.
    :param adds: the companies to tag; each gets its outcome.
    :param removes: the companies to untag; each gets its outcome.
    :param payloads: what Intercom gets for each item of either report (``{"id"}``, ``{"company_id"}``).
    :param batch_size: companies per call.
    :return: the tag, with its id once an addition created it.
    """
    for report, untag in ((adds, False), (removes, True)):
        if report.items:
            sent = {item: payloads[item] for item in report.items}
            BulkWriter(hook, log, report).send_companies(tag["name"], sent, batch_size, untag=untag)
    if tag["id"] is None and adds.items:
        tag = hook.find_tag_by_name(tag["name"]) or tag
    return tag
