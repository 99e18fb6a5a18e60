"""
Bulk tagging through ``POST /tags`` with an exact outcome per item, shared by the tag and sync operators.

Up to API 2.15 Intercom refuses a whole batch with 404 when one id is unknown, and tags nobody; from
2.16 it skips unknown ids and lists what it did. Both are turned into one outcome per item here.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_intercom.exceptions import (
    IntercomError,
    IntercomNotFoundError,
    IntercomUnauthorizedError,
)
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators._plan import ItemReport, batches, error_details


def tag_contacts(
    hook: IntercomHook, log: Any, tag_name: str, contact_ids: list[str], batch_size: int, report: ItemReport
) -> None:
    """
    Tag contacts in batches (the tag is created by name if missing), recording each outcome.

    :param hook: the hook to call.
    :param log: where progress lines go.
    :param tag_name: the tag's name.
    :param contact_ids: Intercom contact ids, deduplicated.
    :param batch_size: ids per call, at most 50.
    :param report: where each contact's outcome goes.
    """
    for batch in batches(contact_ids, batch_size):
        _tag_contact_batch(hook, log, tag_name, batch, report)
        log.info("tagged %d/%d contacts (%s)", report.done, len(contact_ids), report.counts())


def _tag_contact_batch(
    hook: IntercomHook, log: Any, tag_name: str, batch: list[str], report: ItemReport
) -> None:
    try:
        answer = hook.tag_users(tag_name, batch)
    except IntercomUnauthorizedError:
        raise
    except IntercomNotFoundError:
        _split_unknown_contacts(hook, log, tag_name, batch, report)
        return
    except IntercomError as error:
        for contact_id in batch:
            report.failed(contact_id, error_details(error))
        return
    results = answer.get("users")
    if results is None:  # up to 2.15: a 200 means the whole batch was tagged
        for contact_id in batch:
            report.succeeded(contact_id)
        return
    tagged = {str(result.get("id")) for result in results if result.get("tagged")}
    for contact_id in batch:
        (report.succeeded if contact_id in tagged else report.not_found)(contact_id)


def _split_unknown_contacts(
    hook: IntercomHook, log: Any, tag_name: str, batch: list[str], report: ItemReport
) -> None:
    """After a whole-batch 404 (API 2.15 and earlier), find the unknown ids and tag the rest."""
    if len(batch) == 1:
        report.not_found(batch[0])
        return
    try:
        unknown = set(hook.unknown_contact_ids(batch))
    except IntercomUnauthorizedError:
        raise
    except IntercomError:
        unknown = set()
    log.info("A batch of %d was refused with 404: %d unknown ids found", len(batch), len(unknown))
    if unknown:
        for contact_id in batch:
            if contact_id in unknown:
                report.not_found(contact_id)
        known = [contact_id for contact_id in batch if contact_id not in unknown]
        if known:
            _tag_contact_batch(hook, log, tag_name, known, report)
        return
    # Every id looked known, yet Intercom refused the batch: bisect to find the culprit.
    middle = len(batch) // 2
    _tag_contact_batch(hook, log, tag_name, batch[:middle], report)
    _tag_contact_batch(hook, log, tag_name, batch[middle:], report)


def send_companies(
    hook: IntercomHook,
    log: Any,
    tag_name: str,
    companies: list[tuple[str, dict[str, str]]],
    batch_size: int,
    report: ItemReport,
    *,
    untag: bool,
) -> None:
    """
    Tag or untag companies in batches, recording each outcome.

    :param hook: the hook to call.
    :param log: where progress lines go.
    :param tag_name: the tag's name.
    :param companies: ``(item, company)`` pairs: the item names the company in the report, the
        company is what Intercom gets: ``{"id": ...}`` (Intercom's id), ``{"company_id": ...}``
        (yours), or both.
    :param batch_size: companies per call, at most 50.
    :param report: where each item's outcome goes.
    :param untag: remove the tag instead of applying it.
    """
    verb = "untagged" if untag else "tagged"
    for batch in batches(companies, batch_size):
        _send_company_batch(hook, tag_name, batch, report, untag)
        log.info("%s %d/%d companies (%s)", verb, report.done, len(companies), report.counts())


def _send_company_batch(
    hook: IntercomHook,
    tag_name: str,
    batch: list[tuple[str, dict[str, str]]],
    report: ItemReport,
    untag: bool,
) -> None:
    send = hook.untag_companies if untag else hook.tag_companies
    try:
        answer = send(tag_name, [company for _, company in batch])
    except IntercomUnauthorizedError:
        raise
    except IntercomNotFoundError:
        # Up to 2.15 one unknown company fails the batch and nothing is done: bisect.
        if len(batch) == 1:
            report.not_found(batch[0][0])
            return
        middle = len(batch) // 2
        _send_company_batch(hook, tag_name, batch[:middle], report, untag)
        _send_company_batch(hook, tag_name, batch[middle:], report, untag)
        return
    except IntercomError as error:
        for item, _ in batch:
            report.failed(item, error_details(error))
        return
    results = answer.get("companies")
    if results is None:  # up to 2.15: a 200 means the whole batch was done
        for item, _ in batch:
            report.succeeded(item)
        return
    _read_company_results(hook, batch, results, report, untag)


def _read_company_results(
    hook: IntercomHook,
    batch: list[tuple[str, dict[str, str]]],
    results: list[dict[str, Any]],
    report: ItemReport,
    untag: bool,
) -> None:
    """Read 2.16's per-company results, which name companies by Intercom id only."""
    done = {str(result.get("id")) for result in results if bool(result.get("tagged")) is not untag}
    sent_ids = {company["id"] for _, company in batch if "id" in company}
    by_your_id = [(item, company["company_id"]) for item, company in batch if "id" not in company]
    for item, company in batch:
        if "id" in company:
            (report.succeeded if company["id"] in done else report.not_found)(item)
    leftover = done - sent_ids
    if len(leftover) == len(by_your_id):
        for item, _ in by_your_id:  # every company named by your id was found and done
            report.succeeded(item)
        return
    for item, company_id in by_your_id:  # some were skipped: look each up to tell which
        try:
            found = hook.find_company(company_id)
        except IntercomNotFoundError:
            report.not_found(item)
        except IntercomError as error:
            report.failed(item, error_details(error))
        else:
            (report.succeeded if str(found.get("id")) in leftover else report.not_found)(item)
