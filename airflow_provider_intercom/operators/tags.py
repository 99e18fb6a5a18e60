"""
Operators for Intercom tags: bulk tagging of contacts, companies, conversations and tickets.

They also list, create and delete tags.

Every bulk operator returns the same report to XCom, as plain JSON::

    {"tag": {"type", "id", "name"}, "requested": n, "succeeded": [...], "not_found": [...],
     "failed": [{"id", "error": {"status", "code", "message", "request_id"}}], "dry_run": bool}

Each requested item (after dedupe) lands in exactly one of ``succeeded``, ``not_found`` and
``failed``. In a dry run nothing is written and ``succeeded`` lists what would be written.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_intercom.exceptions import (
    IntercomBadRequestError,
    IntercomConfigurationError,
    IntercomNotFoundError,
    IntercomPartialFailureError,
    IntercomTagInUseError,
    IntercomTagNotFoundError,
)
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.links.tags import TAG_LINK_XCOM_KEY, IntercomTagLink, tag_contacts_url
from airflow_provider_intercom.operators._bulk import send_companies, tag_contacts
from airflow_provider_intercom.operators._plan import (
    DEFAULT_MAX_ITEMS,
    ItemReport,
    apply_each,
    check_max_items,
    chunk_ids,
    gather_ids,
    require_one_tag,
    tag_summary,
    validate_batch_size,
    validate_flag,
    validate_ratio,
    validate_workers,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = [
    "CreateTagOperator",
    "DeleteTagOperator",
    "ListTagsOperator",
    "TagCompaniesOperator",
    "TagContactsOperator",
    "TagConversationsOperator",
    "TagTicketsOperator",
    "UntagCompaniesOperator",
    "UntagContactsOperator",
    "chunk_ids",
]

_CONNECTION_FIELDS = ("intercom_conn_id", "api_version", "region")
_INPUT_FIELDS = ("id_key", "ids_file")
_PROGRESS_EVERY = 50


class _IntercomOperator(BaseOperator):
    """
    Base of the Intercom operators: the connection arguments and the hook.

    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    template_fields: Sequence[str] = _CONNECTION_FIELDS

    def __init__(
        self,
        *,
        intercom_conn_id: str = IntercomHook.default_conn_name,
        api_version: str | None = None,
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.intercom_conn_id = intercom_conn_id
        self.api_version = api_version
        self.region = region

    @cached_property
    def hook(self) -> IntercomHook:
        """The hook for this task's connection, region and version."""
        return IntercomHook(self.intercom_conn_id, region=self.region, api_version=self.api_version)

    def _check_connection(self) -> None:
        # Resolves token, region and version now, so a bad one fails before any request.
        _ = self.hook.settings

    def _tag_by_name_or_id(
        self, tag_name: Any, tag_id: Any, *, create: bool, dry_run: bool, needed: bool = True
    ) -> dict[str, Any]:
        """
        Find the task's tag, or create it by name when allowed (never in a dry run).

        :param needed: whether anything will carry the tag; a tag nothing would carry is not created.
        :return: the tag; its id is None when a dry run would create it, or when it is not needed.
        """
        if tag_id is not None:
            try:
                return self.hook.find_tag(tag_id)
            except IntercomNotFoundError as error:
                raise IntercomTagNotFoundError(f"No tag has tag_id={tag_id!r}") from error
        tag = self.hook.find_tag_by_name(tag_name)
        if tag is not None:
            return tag
        if not create:
            raise IntercomTagNotFoundError(f"No tag is named {tag_name!r}; nothing was changed")
        if dry_run:
            self.log.info("Dry run: the tag %r does not exist and would be created", tag_name)
            return {"type": "tag", "id": None, "name": tag_name}
        if not needed:
            self.log.info(
                "The tag %r does not exist and nothing resolved to tag: it is not created", tag_name
            )
            return {"type": "tag", "id": None, "name": tag_name}
        tag = self.hook.create_or_update_tag(tag_name)
        self.log.info("Created the tag %r (id %s)", tag["name"], tag["id"])
        return tag

    def _record_tag_link(self, context: Context, tag: dict[str, Any]) -> None:
        """
        Push the URL of the tag's contacts in the web app to XCom, for the "Intercom tag" link.

        It costs one ``GET /me``. The link is a convenience: when it cannot be built, a warning is
        logged and the task goes on, its outcome and report unchanged.

        :param context: the task's context.
        :param tag: the task's tag; no link when its id is None (a dry run of a missing tag).
        """
        if not tag.get("id"):
            return
        try:
            url = tag_contacts_url(self.hook.app_url(), str(tag["id"]))
        except Exception as error:  # any failure here must leave the task as it is
            self.log.warning("No %r link for this task: %s", IntercomTagLink.name, error)
            return
        context["ti"].xcom_push(key=TAG_LINK_XCOM_KEY, value=url)

    def _finish(
        self, context: Context, report: dict[str, Any], max_failed_ratio: float, noun: str
    ) -> dict[str, Any]:
        """Record the tag link and log the outcome; on too many misses, push the report and fail."""
        self._record_tag_link(context, report["tag"])
        missed = len(report["not_found"]) + len(report["failed"])
        self.log.info(
            "%s%d %s requested: %d succeeded, %d not found, %d failed",
            "Dry run: " if report["dry_run"] else "",
            report["requested"],
            noun,
            len(report["succeeded"]),
            len(report["not_found"]),
            len(report["failed"]),
        )
        allowed = max_failed_ratio * report["requested"]
        if missed > allowed:
            # A failed task returns nothing, so push the report first: nothing done is lost.
            context["ti"].xcom_push(key="return_value", value=report)
            not_found, failed = len(report["not_found"]), len(report["failed"])
            raise IntercomPartialFailureError(
                f"{missed} of {report['requested']} {noun} were not done ({not_found} not found, {failed} "
                f"failed); max_failed_ratio={max_failed_ratio} allows {int(allowed)}. "
                "The per-item report is in this task's XCom (return_value).",
                report,
            )
        return report


class _TagTaskOperator(_IntercomOperator):
    """
    Base of the operators that apply or remove one tag on many items, and report each item.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``).
    :param tag_id: the tag's Intercom id.
    :param dry_run: resolve and plan, but write nothing (templated).
    :param max_failed_ratio: the share of items that may end not found or failed before the task
        fails (0.0: any miss fails the task, after the report is pushed to XCom).
    :param max_items: refuse, before any request, more items than this (default 10,000).
    :param id_key: the column that holds the id when id lists hold dict rows, and the CSV column or
        JSON field of ``ids_file`` (templated).
    :param ids_file: a CSV, JSON-lines or text file of more ids, read line by line (templated).
    :param ids_file_field: which id list ``ids_file`` adds to; defaults to the operator's first.
    """

    operator_extra_links = (IntercomTagLink(),)
    id_fields: tuple[str, ...] = ()  # the id list arguments; ids_file feeds the first by default

    def __init__(
        self,
        *,
        tag_name: str | None = None,
        tag_id: str | None = None,
        dry_run: bool | str = False,
        max_failed_ratio: float = 0.0,
        max_items: int = DEFAULT_MAX_ITEMS,
        id_key: str | None = None,
        ids_file: str | None = None,
        ids_file_field: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tag_name = tag_name
        self.tag_id = tag_id
        self.id_key = id_key
        self.ids_file = ids_file
        self.ids_file_field = ids_file_field
        # BaseOperator has a dry_run() method, so the flag is stored under another name.
        self.is_dry_run = dry_run
        self.max_failed_ratio = max_failed_ratio
        self.max_items = max_items

    def _validated_options(self) -> tuple[bool, float]:
        """Check the tag choice, ``dry_run`` and ``max_failed_ratio``; return the last two."""
        require_one_tag(self.tag_name, self.tag_id)
        return validate_flag(self.is_dry_run, "dry_run"), validate_ratio(
            self.max_failed_ratio, "max_failed_ratio"
        )

    def _id_inputs(self) -> dict[str, list[str]]:
        """Read every id list argument, with ``id_key``, and ``ids_file`` into its list; no request."""
        target = self.id_fields[0] if self.ids_file_field is None else self.ids_file_field
        if target not in self.id_fields:
            raise IntercomConfigurationError(
                f"ids_file_field={target!r} must be one of: {', '.join(self.id_fields)}"
            )
        return {
            field: gather_ids(
                getattr(self, field),
                field,
                id_key=self.id_key,
                ids_file=self.ids_file if field == target else None,
            )
            for field in self.id_fields
        }


class _ContactsOperator(_TagTaskOperator):
    """
    Shared inputs of the contact operators: ids, emails and external ids.

    :param contact_ids: Intercom contact ids (templated; a list, an XComArg, or a rendered string).
    :param emails: contact emails, resolved through search (templated).
    :param external_ids: contacts' ``external_id`` values, resolved through search (templated).
    """

    template_fields: Sequence[str] = (
        "tag_name",
        "tag_id",
        "contact_ids",
        "emails",
        "external_ids",
        "is_dry_run",
        *_INPUT_FIELDS,
        *_CONNECTION_FIELDS,
    )
    template_fields_renderers = {"contact_ids": "json", "emails": "json", "external_ids": "json"}
    id_fields = ("contact_ids", "emails", "external_ids")

    def __init__(
        self, *, contact_ids: Any = None, emails: Any = None, external_ids: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.emails = emails
        self.external_ids = external_ids

    def _validated_inputs(self) -> tuple[dict[str, list[str]], bool, float]:
        dry_run, max_failed_ratio = self._validated_options()
        inputs = self._id_inputs()
        if not any(inputs.values()):
            raise IntercomConfigurationError(
                "Nothing to do: contact_ids, emails and external_ids are all empty or missing"
            )
        count = len(dict.fromkeys(item for values in inputs.values() for item in values))
        check_max_items(count, self.max_items, "contact_ids, emails and external_ids")
        return inputs, dry_run, max_failed_ratio

    def _resolve(self, inputs: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, Any]]:
        """Map every requested item to the contact ids it stands for (none when unresolved)."""
        targets: dict[str, list[str]] = {contact_id: [contact_id] for contact_id in inputs["contact_ids"]}
        if not (inputs["emails"] or inputs["external_ids"]):
            return targets, {}
        resolved = self.hook.resolve_contacts(emails=inputs["emails"], external_ids=inputs["external_ids"])
        for kind in ("emails", "external_ids"):
            for value in inputs[kind]:
                targets.setdefault(value, resolved[kind].get(value, []))
        self.log.info(
            "Resolved %d emails and %d external ids; unresolved: %s; matching several contacts: %s",
            len(resolved["emails"]),
            len(resolved["external_ids"]),
            resolved["unresolved"],
            resolved["ambiguous"],
        )
        return targets, {"resolved": resolved}

    @staticmethod
    def _settle(targets: dict[str, list[str]], contacts: ItemReport) -> ItemReport:
        """Give each item its contacts' outcome: any failure fails it, else any success succeeds it."""
        items = ItemReport(list(targets))
        for item, contact_ids in targets.items():
            outcomes = [contacts.outcome(contact_id) for contact_id in contact_ids]
            failure = next((outcome for outcome in outcomes if outcome and outcome[0] == "failed"), None)
            if failure is not None:
                items.failed(item, failure[1] or {})
            elif any(outcome and outcome[0] == "succeeded" for outcome in outcomes):
                items.succeeded(item)
            else:
                items.not_found(item)
        return items


class TagContactsOperator(_ContactsOperator):
    """
    Tag contacts in bulk, by Intercom id, email or external id.

    Emails and external ids are resolved through search first. Contacts are tagged through
    ``POST /tags`` in batches of ``batch_size``. Up to API 2.15 one unknown id fails a whole batch
    with 404: the operator then finds the unknown ids and still tags every known contact. From
    2.16 it reads Intercom's per-id results. Returns the per-item report (see the module docs).

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param contact_ids: Intercom contact ids (templated: a list, an XComArg, a JSON list or a
        comma-separated string; one-column rows and, with ``id_key``, dict rows are read too;
        duplicates are dropped).
    :param emails: contact emails, resolved through search; one email may match several contacts
        (a user and a lead), and then all of them are changed (templated).
    :param external_ids: your ``external_id`` values, resolved through search (templated).
    :param create_tag_if_missing: create the tag when no tag has ``tag_name`` (never in a dry run).
    :param batch_size: contacts per bulk call, 1 to 50.
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to: ``contact_ids`` (the default),
        ``emails`` or ``external_ids``.
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    def __init__(self, *, create_tag_if_missing: bool = True, batch_size: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.create_tag_if_missing = create_tag_if_missing
        self.batch_size = batch_size

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Tag the contacts and return the report (XCom).

        :param context: The task context.
        """
        inputs, dry_run, max_failed_ratio = self._validated_inputs()
        batch_size = validate_batch_size(self.batch_size)
        self._check_connection()
        targets, extra = self._resolve(inputs)
        contact_ids = list(dict.fromkeys(cid for ids in targets.values() for cid in ids))
        tag = self._tag_by_name_or_id(
            self.tag_name,
            self.tag_id,
            create=self.create_tag_if_missing,
            dry_run=dry_run,
            needed=bool(contact_ids),
        )
        contacts = ItemReport(contact_ids)
        if dry_run:
            for contact_id in contact_ids:
                contacts.succeeded(contact_id)
        else:
            tag_contacts(self.hook, self.log, tag["name"], contact_ids, batch_size, contacts)
        report = self._settle(targets, contacts).as_dict(tag_summary(tag), dry_run=dry_run, **extra)
        return self._finish(context, report, max_failed_ratio, "contacts")


class UntagContactsOperator(_ContactsOperator):
    """
    Remove a tag from contacts, one call per contact (Intercom has no bulk untag for contacts).

    The tag must exist; it is never created. Calls go out from a bounded thread pool; the hook's
    pacer keeps them within Intercom's rate limit. Returns the per-item report (see the module docs).

    :param max_workers: calls in flight at once, 1 to 32.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param contact_ids: Intercom contact ids (templated: a list, an XComArg, a JSON list or a
        comma-separated string; one-column rows and, with ``id_key``, dict rows are read too;
        duplicates are dropped).
    :param emails: contact emails, resolved through search; one email may match several contacts
        (a user and a lead), and then all of them are changed (templated).
    :param external_ids: your ``external_id`` values, resolved through search (templated).
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to: ``contact_ids`` (the default),
        ``emails`` or ``external_ids``.
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    def __init__(self, *, max_workers: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Remove the tag from the contacts and return the report (XCom).

        :param context: The task context.
        """
        inputs, dry_run, max_failed_ratio = self._validated_inputs()
        max_workers = validate_workers(self.max_workers)
        self._check_connection()
        targets, extra = self._resolve(inputs)
        contact_ids = list(dict.fromkeys(cid for ids in targets.values() for cid in ids))
        tag = self._tag_by_name_or_id(self.tag_name, self.tag_id, create=False, dry_run=dry_run)
        contacts = ItemReport(contact_ids)
        if dry_run:
            for contact_id in contact_ids:
                contacts.succeeded(contact_id)
        else:
            apply_each(
                self.log,
                contact_ids,
                lambda contact_id: self.hook.untag_contact(contact_id, tag["id"]),
                contacts,
                "untagged",
                "contacts",
                max_workers,
            )
        report = self._settle(targets, contacts).as_dict(tag_summary(tag), dry_run=dry_run, **extra)
        return self._finish(context, report, max_failed_ratio, "contacts")


class _CompaniesOperator(_TagTaskOperator):
    """
    Tag or untag companies in bulk through ``POST /tags``.

    :param company_ids: Intercom company ids (templated).
    :param company_external_ids: your ``company_id`` values (templated).
    :param batch_size: companies per bulk call, 1 to 50.
    """

    template_fields: Sequence[str] = (
        "tag_name",
        "tag_id",
        "company_ids",
        "company_external_ids",
        "is_dry_run",
        *_INPUT_FIELDS,
        *_CONNECTION_FIELDS,
    )
    template_fields_renderers = {"company_ids": "json", "company_external_ids": "json"}
    id_fields = ("company_ids", "company_external_ids")
    untag = False

    def __init__(
        self,
        *,
        company_ids: Any = None,
        company_external_ids: Any = None,
        batch_size: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.company_ids = company_ids
        self.company_external_ids = company_external_ids
        self.batch_size = batch_size

    def _keyed_companies(self) -> dict[str, str]:
        """Map each input company, in order, to its key: ``id`` (Intercom's) or ``company_id`` (yours)."""
        keyed: dict[str, str] = {}
        inputs = self._id_inputs()
        for key, field in (("id", "company_ids"), ("company_id", "company_external_ids")):
            for item in inputs[field]:
                keyed.setdefault(item, key)
        return keyed

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Tag or untag the companies and return the report (XCom).

        :param context: The task context.
        """
        dry_run, max_failed_ratio = self._validated_options()
        keyed = self._keyed_companies()
        if not keyed:
            raise IntercomConfigurationError(
                "Nothing to do: company_ids and company_external_ids are both empty"
            )
        check_max_items(len(keyed), self.max_items, "company_ids and company_external_ids")
        batch_size = validate_batch_size(self.batch_size)
        self._check_connection()
        tag = self._tag_by_name_or_id(self.tag_name, self.tag_id, create=not self.untag, dry_run=dry_run)
        report = ItemReport(list(keyed))
        noun = "companies"
        if dry_run:
            apply_each(
                self.log, list(keyed), lambda item: self._look_up(item, keyed[item]), report, "checked", noun
            )
        else:
            companies = [(item, {key: item}) for item, key in keyed.items()]
            send_companies(self.hook, self.log, tag["name"], companies, batch_size, report, untag=self.untag)
        return self._finish(
            context, report.as_dict(tag_summary(tag), dry_run=dry_run), max_failed_ratio, noun
        )

    def _look_up(self, item: str, key: str) -> dict[str, Any]:
        return self.hook.get_company(item) if key == "id" else self.hook.find_company(item)


class TagCompaniesOperator(_CompaniesOperator):
    """
    Tag companies in bulk through ``POST /tags``, by Intercom id or by your ``company_id``.

    The tag is created if missing. Up to API 2.15 one unknown company fails a batch with 404, so
    the batch is split until the unknown ones are found; from 2.16 Intercom's per-company results
    are read. A dry run looks every company up and writes nothing. Returns the per-item report.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param company_ids: Intercom company ids (templated).
    :param company_external_ids: your ``company_id`` values (templated).
    :param batch_size: companies per bulk call, 1 to 50.
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to: ``company_ids`` (the default) or
        ``company_external_ids``.
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """


class UntagCompaniesOperator(_CompaniesOperator):
    """
    Remove a tag from companies in bulk (``untag: true``), by Intercom id or by your ``company_id``.

    For companies that left a trial, say. The tag must exist; it is never created. Otherwise it
    works as :class:`TagCompaniesOperator`. Returns the per-item report.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param company_ids: Intercom company ids (templated).
    :param company_external_ids: your ``company_id`` values (templated).
    :param batch_size: companies per bulk call, 1 to 50.
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to: ``company_ids`` (the default) or
        ``company_external_ids``.
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    untag = True


class _TicketLikeOperator(_TagTaskOperator):
    """
    Tag or untag conversations or tickets, one call each, on behalf of an admin.

    :param admin_id: the admin who applies or removes the tag (Intercom requires one).
    :param untag: remove the tag instead of applying it; the tag is then never created.
    :param max_workers: calls in flight at once, 1 to 32; the hook's pacer keeps them within the rate limit.
    """

    kind = ""

    def __init__(
        self, *, admin_id: str | None = None, untag: bool = False, max_workers: int = 4, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.admin_id = admin_id
        self.untag = untag
        self.max_workers = max_workers

    def _item_call(self, tag_id: str) -> Callable[[str], Any]:
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Tag or untag each item and return the report (XCom).

        :param context: The task context.
        """
        dry_run, max_failed_ratio = self._validated_options()
        (ids_field,) = self.id_fields
        items = self._id_inputs()[ids_field]
        if not items:
            raise IntercomConfigurationError(f"Nothing to do: {ids_field} is empty")
        check_max_items(len(items), self.max_items, ids_field)
        max_workers = validate_workers(self.max_workers)
        if not isinstance(self.admin_id, str | int) or not str(self.admin_id).strip():
            raise IntercomConfigurationError(f"admin_id={self.admin_id!r} must be a non-empty admin id")
        self._check_connection()
        self._check_version()
        tag = self._tag_by_name_or_id(self.tag_name, self.tag_id, create=not self.untag, dry_run=dry_run)
        report = ItemReport(items)
        if dry_run:
            for item in items:
                report.succeeded(item)
        else:
            verb = "untagged" if self.untag else "tagged"
            apply_each(self.log, items, self._item_call(tag["id"]), report, verb, self.kind, max_workers)
        return self._finish(
            context, report.as_dict(tag_summary(tag), dry_run=dry_run), max_failed_ratio, self.kind
        )

    def _check_version(self) -> None:
        """Refuse, before any write, an API version that lacks the endpoint."""


class TagConversationsOperator(_TicketLikeOperator):
    """
    Tag (or, with ``untag=True``, untag) conversations, one call each. Returns the per-item report.

    :param conversation_ids: conversation ids (templated).
    :param admin_id: the admin who applies or removes the tag (Intercom requires one; templated).
    :param untag: remove the tag instead of applying it; the tag is then never created.
    :param max_workers: calls in flight at once, 1 to 32; the hook's pacer keeps them within the rate limit.
    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to: only ``conversation_ids``.
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    template_fields: Sequence[str] = (
        "conversation_ids",
        "admin_id",
        "tag_name",
        "tag_id",
        "is_dry_run",
        *_INPUT_FIELDS,
        *_CONNECTION_FIELDS,
    )
    kind = "conversations"
    id_fields = ("conversation_ids",)

    def __init__(self, *, conversation_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conversation_ids = conversation_ids

    def _item_call(self, tag_id: str) -> Callable[[str], Any]:
        action = self.hook.untag_conversation if self.untag else self.hook.tag_conversation
        return lambda conversation_id: action(conversation_id, tag_id, str(self.admin_id))


class TagTicketsOperator(_TicketLikeOperator):
    """
    Tag (or, with ``untag=True``, untag) tickets, one call each; needs API 2.10 or later.

    An older ``api_version`` is refused before any request. Returns the per-item report.

    :param ticket_ids: ticket ids (templated).
    :param admin_id: the admin who applies or removes the tag (Intercom requires one; templated).
    :param untag: remove the tag instead of applying it; the tag is then never created.
    :param max_workers: calls in flight at once, 1 to 32; the hook's pacer keeps them within the rate limit.
    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param dry_run: resolve and plan, but write nothing; ``succeeded`` then lists what would be
        written (templated, so ``"{{ params.dry_run }}"`` works).
    :param max_failed_ratio: the share of items that may end ``not_found`` or ``failed`` before the
        task fails; 0.0 (the default) fails it on any miss, after pushing the report to XCom.
    :param max_items: refuse, before any request, more items than this (default 10,000); split
        larger inputs with :func:`chunk_ids` and map.
    :param id_key: the column that holds the id when an id list holds dict rows, e.g. ``"email"``
        for ``[{"email": ...}, ...]``, and the CSV column or JSON-lines field of ``ids_file``
        (templated). A list of one-column rows, such as ``SQLExecuteQueryOperator`` pushes for
        ``SELECT id ...``, needs no ``id_key``; a row with several columns is refused.
    :param ids_file: the path of a file of more ids, streamed line by line (templated): ``.csv``
        (a header row; ``id_key`` names the id column), ``.jsonl`` / ``.ndjson`` (one object, picked
        by ``id_key``, or one id per line) or any other name for plain text, one id per line.
    :param ids_file_field: the id list ``ids_file`` adds to: only ``ticket_ids``.
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    """

    template_fields: Sequence[str] = (
        "ticket_ids",
        "admin_id",
        "tag_name",
        "tag_id",
        "is_dry_run",
        *_INPUT_FIELDS,
        *_CONNECTION_FIELDS,
    )
    kind = "tickets"
    id_fields = ("ticket_ids",)

    def __init__(self, *, ticket_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticket_ids = ticket_ids

    def _check_version(self) -> None:
        self.hook.require_version((2, 10), "ticket tagging")

    def _item_call(self, tag_id: str) -> Callable[[str], Any]:
        action = self.hook.untag_ticket if self.untag else self.hook.tag_ticket
        return lambda ticket_id: action(ticket_id, tag_id, str(self.admin_id))


class ListTagsOperator(_IntercomOperator):
    """
    Return the workspace's tags, or one contact's, as a list of tag dicts.

    :param name_pattern: keep only tags whose name matches this case-insensitive glob, e.g. ``"churn*"``.
    :param contact_id: list this contact's tags instead of the workspace's.
    """

    template_fields: Sequence[str] = ("name_pattern", "contact_id", *_CONNECTION_FIELDS)

    def __init__(
        self, *, name_pattern: str | None = None, contact_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.name_pattern = name_pattern
        self.contact_id = contact_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """
        Return the workspace's (or the contact's) tags, filtered by ``name_pattern`` (XCom).

        :param context: The task context.
        """
        if self.name_pattern is not None and not isinstance(self.name_pattern, str):
            raise IntercomConfigurationError(f"name_pattern={self.name_pattern!r} must be a glob string")
        self._check_connection()
        tags = self.hook.list_contact_tags(self.contact_id) if self.contact_id else self.hook.list_tags()
        if self.name_pattern:
            pattern = self.name_pattern.casefold()
            tags = [tag for tag in tags if fnmatch.fnmatchcase(str(tag.get("name", "")).casefold(), pattern)]
        self.log.info("%d tags: %s", len(tags), ", ".join(str(tag.get("name")) for tag in tags))
        return tags


class CreateTagOperator(_IntercomOperator):
    """
    Create a tag by name, or return the existing one (names are case-insensitive at Intercom).

    :param tag_name: the tag's name (templated).
    """

    template_fields: Sequence[str] = ("tag_name", *_CONNECTION_FIELDS)
    operator_extra_links = (IntercomTagLink(),)

    def __init__(self, *, tag_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag_name = tag_name

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Create the tag (or find it by name) and return it (XCom).

        :param context: The task context.
        """
        require_one_tag(self.tag_name, None)
        self._check_connection()
        tag = self.hook.create_or_update_tag(self.tag_name)
        self.log.info("Tag %r has id %s", tag.get("name"), tag.get("id"))
        self._record_tag_link(context, tag)
        return tag_summary(tag)


class DeleteTagOperator(_IntercomOperator):
    """
    Delete a tag, by name or id; a tag that is already gone is reported, not an error.

    A tag used by segments cannot be deleted: the task then fails with a message naming them.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``).
    :param tag_id: the tag's Intercom id.
    """

    template_fields: Sequence[str] = ("tag_name", "tag_id", *_CONNECTION_FIELDS)

    def __init__(self, *, tag_name: str | None = None, tag_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag_name = tag_name
        self.tag_id = tag_id

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Delete the tag; return ``{tag, deleted}`` (XCom), ``deleted`` False when it was already gone.

        :param context: The task context.
        """
        require_one_tag(self.tag_name, self.tag_id)
        self._check_connection()
        try:
            tag = self._tag_by_name_or_id(self.tag_name, self.tag_id, create=False, dry_run=False)
        except IntercomTagNotFoundError:
            self.log.info(
                "No such tag (tag_name=%r, tag_id=%r): nothing to delete", self.tag_name, self.tag_id
            )
            return {"tag": {"type": "tag", "id": self.tag_id, "name": self.tag_name}, "deleted": False}
        try:
            self.hook.delete_tag(tag["id"])
        except IntercomNotFoundError:
            # The tag existed a moment ago: a retry after a lost answer, or someone else, deleted it.
            self.log.info("The tag %r (id %s) was already deleted", tag["name"], tag["id"])
        except IntercomBadRequestError as error:
            if error.code != "tag_has_dependent_objects":
                raise
            raise IntercomTagInUseError(
                f"Tag {tag['name']!r} (id {tag['id']}) cannot be deleted while segments use it. "
                f"Intercom says: {error.message}"
            ) from error
        self.log.info("Deleted the tag %r (id %s)", tag["name"], tag["id"])
        return {"tag": tag_summary(tag), "deleted": True}
