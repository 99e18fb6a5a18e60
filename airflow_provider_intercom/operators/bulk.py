"""
Writing one tag change to many items with an exact outcome per item, for the tag and sync operators.

Up to API 2.15 Intercom refuses a whole ``POST /tags`` batch with 404 when one id is unknown, and
tags nobody; from 2.16 it skips unknown ids and lists what it did. :class:`BulkWriter` turns both
into one outcome per item. It lives beside the operators rather than in ``hooks/`` because it
writes into their report; the hook stays one HTTP call per method.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from airflow_provider_intercom._validation import batches
from airflow_provider_intercom.exceptions import (
    IntercomError,
    IntercomNotFoundError,
    IntercomUnauthorizedError,
)
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.operators.report import ItemReport, Outcome, error_details

PROGRESS_EVERY = 50  # per-item calls log a progress line this often
PRECHECK_CHUNK = 150  # ids checked by one id IN search once stale ids were seen


class BulkWriter:
    """
    Apply or remove a tag on the items of one report, recording each item's outcome there.

    :param hook: the hook that makes the calls (and paces and retries them).
    :param log: where progress lines go.
    :param report: the items to write, in order; every one gets an outcome.
    """

    def __init__(self, hook: IntercomHook, log: Any, report: ItemReport) -> None:
        self.hook = hook
        self.log = log
        self.report = report
        self.stale_ids_seen = False  # a whole batch was refused for an unknown id (2.15 and earlier)

    def tag_contacts(self, tag_name: str, batch_size: int, *, precheck: bool = False) -> bool:
        """
        Tag the report's contacts by id in batches; the tag is created by name if missing.

        Up to 2.15 one unknown id costs its whole batch a refused call, a search, look-ups and a
        resend. So once a batch has been refused (or from the start with ``precheck``), the ids still
        to send are checked first, one ``id IN`` search per 150: those search does not find are not
        found, without a call of their own, and only the others are sent. While every id is known,
        nothing is checked. A contact created in the last few minutes, which search does not show
        yet, is then reported not found: a rerun tags it.

        :param tag_name: the tag's name.
        :param batch_size: ids per call, at most 50.
        :param precheck: check the ids before sending from the start (an earlier window saw stale ids).
        :return: whether stale ids were seen, so that the next window checks from its start.
        """
        self.stale_ids_seen = precheck
        position, items = 0, self.report.items
        while position < len(items):
            if self.stale_ids_seen:
                chunk = items[position : position + PRECHECK_CHUNK]
                self._checked_contacts(tag_name, chunk, batch_size)
            else:
                chunk = items[position : position + batch_size]
                self._contact_batch(tag_name, chunk)
            position += len(chunk)
            self._progress("tagged", "contacts")
        return self.stale_ids_seen

    def _checked_contacts(self, tag_name: str, chunk: list[str], batch_size: int) -> None:
        try:
            known = self.hook.searchable_contact_ids(chunk)
        except IntercomUnauthorizedError:
            raise
        except IntercomError:
            known = set(chunk)  # cannot check: send them, and split a refused batch as before
        for contact_id in chunk:
            if contact_id not in known:
                self.report.not_found(contact_id)
        for batch in batches([contact_id for contact_id in chunk if contact_id in known], batch_size):
            self._contact_batch(tag_name, batch)

    def send_companies(
        self, tag_name: str, companies: Mapping[str, dict[str, str]], batch_size: int, *, untag: bool
    ) -> None:
        """
        Tag or untag the report's companies in batches.

        :param tag_name: the tag's name.
        :param companies: what Intercom gets for each item of the report: ``{"id": ...}``
            (Intercom's id), ``{"company_id": ...}`` (yours), or both.
        :param batch_size: companies per call, at most 50.
        :param untag: remove the tag instead of applying it.
        """
        for batch in batches(self.report.items, batch_size):
            self._company_batch(tag_name, batch, companies, untag)
            self._progress("untagged" if untag else "tagged", "companies")

    def each(self, call: Callable[[str], Any], verb: str, noun: str, max_workers: int = 1) -> None:
        """
        Make one call per item from a bounded thread pool.

        Outcomes are recorded as calls finish; the report keeps input order whatever that order
        was. A 401 stops everything at once (queued calls are cancelled), since every call would fail.

        :param call: the API call for one item; its hook paces and retries it.
        :param verb: e.g. ``untagged``, for progress lines.
        :param noun: e.g. ``contacts``, for progress lines.
        :param max_workers: calls in flight at once.
        """
        pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="intercom")
        try:
            futures = [pool.submit(self._one, call, item) for item in self.report.items]
            for position, future in enumerate(as_completed(futures), start=1):
                item, outcome, error = future.result()
                self.report.record(item, outcome, error)
                if position % PROGRESS_EVERY == 0 or position == len(futures):
                    self._progress(verb, noun)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _one(call: Callable[[str], Any], item: str) -> tuple[str, Outcome, dict[str, Any] | None]:
        try:
            call(item)
        except IntercomNotFoundError:
            return item, Outcome.NOT_FOUND, None
        except IntercomUnauthorizedError:
            raise
        except IntercomError as error:
            return item, Outcome.FAILED, error_details(error)
        return item, Outcome.SUCCEEDED, None

    def _progress(self, verb: str, noun: str) -> None:
        self.log.info(
            "%s %d/%d %s (%s)", verb, self.report.done, len(self.report.items), noun, self.report.counts()
        )

    def _send(
        self,
        batch: list[str],
        send: Callable[[], dict[str, Any]],
        results_key: str,
        on_not_found: Callable[[], None],
        read_results: Callable[[list[dict[str, Any]]], None],
    ) -> None:
        """Make one bulk call for a batch and record its outcome, whichever API version answered."""
        try:
            answer = send()
        except IntercomUnauthorizedError:
            raise
        except IntercomNotFoundError:
            on_not_found()
            return
        except IntercomError as error:
            for item in batch:
                self.report.failed(item, error_details(error))
            return
        results = answer.get(results_key)
        if results is None:  # up to 2.15: a 200 means the whole batch was done
            for item in batch:
                self.report.succeeded(item)
        else:
            read_results(results)

    # -- contacts -------------------------------------------------------------------------------------

    def _contact_batch(self, tag_name: str, batch: list[str]) -> None:
        self._send(
            batch,
            lambda: self.hook.tag_users(tag_name, batch),
            "users",
            lambda: self._split_unknown_contacts(tag_name, batch),
            lambda results: self._read_contact_results(batch, results),
        )

    def _read_contact_results(self, batch: list[str], results: list[dict[str, Any]]) -> None:
        tagged = {str(result.get("id")) for result in results if result.get("tagged")}
        for contact_id in batch:
            self.report.record(contact_id, Outcome.SUCCEEDED if contact_id in tagged else Outcome.NOT_FOUND)

    def _split_unknown_contacts(self, tag_name: str, batch: list[str]) -> None:
        """After a whole-batch 404 (API 2.15 and earlier), find the unknown ids and tag the rest."""
        self.stale_ids_seen = True
        if len(batch) == 1:
            self.report.not_found(batch[0])
            return
        try:
            unknown = set(self.hook.unknown_contact_ids(batch))
        except IntercomUnauthorizedError:
            raise
        except IntercomError:
            unknown = set()
        self.log.info("A batch of %d was refused with 404: %d unknown ids found", len(batch), len(unknown))
        if unknown:
            for contact_id in batch:
                if contact_id in unknown:
                    self.report.not_found(contact_id)
            known = [contact_id for contact_id in batch if contact_id not in unknown]
            if known:
                self._contact_batch(tag_name, known)
            return
        # Every id looked known, yet Intercom refused the batch: bisect to find the culprit.
        middle = len(batch) // 2
        self._contact_batch(tag_name, batch[:middle])
        self._contact_batch(tag_name, batch[middle:])

    # -- companies ------------------------------------------------------------------------------------

    def _company_batch(
        self, tag_name: str, batch: list[str], companies: Mapping[str, dict[str, str]], untag: bool
    ) -> None:
        send = self.hook.untag_companies if untag else self.hook.tag_companies
        self._send(
            batch,
            lambda: send(tag_name, [companies[item] for item in batch]),
            "companies",
            lambda: self._bisect_companies(tag_name, batch, companies, untag),
            lambda results: self._read_company_results(batch, companies, results, untag),
        )

    def _bisect_companies(
        self, tag_name: str, batch: list[str], companies: Mapping[str, dict[str, str]], untag: bool
    ) -> None:
        # Up to 2.15 one unknown company fails the batch and nothing is done: bisect.
        if len(batch) == 1:
            self.report.not_found(batch[0])
            return
        middle = len(batch) // 2
        self._company_batch(tag_name, batch[:middle], companies, untag)
        self._company_batch(tag_name, batch[middle:], companies, untag)

    def _read_company_results(
        self,
        batch: list[str],
        companies: Mapping[str, dict[str, str]],
        results: list[dict[str, Any]],
        untag: bool,
    ) -> None:
        """Read 2.16's per-company results, which name companies by Intercom id only."""
        done = {str(result.get("id")) for result in results if bool(result.get("tagged")) is not untag}
        by_intercom_id = [item for item in batch if "id" in companies[item]]
        by_your_id = [item for item in batch if "id" not in companies[item]]
        for item in by_intercom_id:
            self.report.record(
                item, Outcome.SUCCEEDED if companies[item]["id"] in done else Outcome.NOT_FOUND
            )
        leftover = done - {companies[item]["id"] for item in by_intercom_id}
        if len(leftover) == len(by_your_id):
            for item in by_your_id:  # every company named by your id was found and done
                self.report.succeeded(item)
            return
        for item in by_your_id:  # some were skipped: look each up to tell which
            try:
                found = self.hook.find_company(companies[item]["company_id"])
            except IntercomNotFoundError:
                self.report.not_found(item)
            except IntercomError as error:
                self.report.failed(item, error_details(error))
            else:
                self.report.record(
                    item, Outcome.SUCCEEDED if str(found.get("id")) in leftover else Outcome.NOT_FOUND
                )
