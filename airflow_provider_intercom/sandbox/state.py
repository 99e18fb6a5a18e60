"""
The store of the sandbox: every entity by id, id generation, and the log of the requests answered.

Ids are generated when a seed or a request does not give one. One re-entrant lock guards the whole state:
the router holds it while a route handler runs, so each request is applied atomically.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_intercom.sandbox.models import Admin, Company, Contact, Segment, Tag, Taggable, now_unix
from airflow_provider_intercom.sandbox.requestlog import RequestLog
from airflow_provider_intercom.sandbox.seed import (
    SeedError,
    company_fields,
    contact_fields,
    load_seed,
    optional_str,
)


class SandboxState:
    """
    Everything the sandbox stores, plus the log of the requests it answered.

    The ``add_*`` methods take records of the seed format (:mod:`~airflow_provider_intercom.sandbox.seed`)
    and keep the state whole: tags must exist before anything carries them. Changes requests make go
    through :class:`~airflow_provider_intercom.sandbox.backend.IntercomBackend`.

    :param seed: Optional seed, a mapping or the path of a JSON file (see :meth:`load_seed`).
    """

    def __init__(self, seed: Mapping[str, Any] | str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self.admins: dict[str, Admin] = {}
        self.tags: dict[str, Tag] = {}
        self.contacts: dict[str, Contact] = {}
        self.companies: dict[str, Company] = {}
        self.conversations: dict[str, Taggable] = {}
        self.tickets: dict[str, Taggable] = {}
        self.segments: dict[str, Segment] = {}
        self.request_log = RequestLog()
        # Separate counters keep generated ids readable: tags look like "101", contacts like Mongo ids.
        self._tag_ids = itertools.count(101)
        self._object_ids = itertools.count(1)
        if seed is not None:
            self.load_seed(seed)

    def load_seed(self, seed: Mapping[str, Any] | str | Path) -> None:
        """
        Add the objects of a seed (see :mod:`~airflow_provider_intercom.sandbox.seed` for the format).

        :param seed: The seed mapping, or the path of a JSON file holding one.
        :raises SeedError: If the seed does not have that shape.
        """
        load_seed(self, seed)

    def clear_request_log(self) -> None:
        """Forget the requests logged so far."""
        self.request_log.clear()

    # -- ids -------------------------------------------------------------------------------------------

    def new_tag_id(self) -> str:
        """
        Return an unused numeric tag id.

        :return: A string id.
        """
        with self.lock:
            return next(tag_id for tag_id in map(str, self._tag_ids) if tag_id not in self.tags)

    def new_object_id(self, taken: Mapping[str, Any]) -> str:
        """
        Return an unused 24-hex-digit id, the shape Intercom uses for contacts and companies.

        :param taken: The collection the id must not collide with.
        :return: A string id.
        """
        with self.lock:
            candidates = (f"65a{number:021x}" for number in self._object_ids)
            return next(candidate for candidate in candidates if candidate not in taken)

    def _id_for(self, record: Mapping[str, Any], taken: Mapping[str, Any]) -> str:
        return optional_str(record, "id") or self.new_object_id(taken)

    # -- admins and tags -------------------------------------------------------------------------------

    def primary_admin(self) -> Admin:
        """
        Return the admin that owns the access token: the first seeded one, or a default one.

        :return: The admin.
        """
        with self.lock:
            if not self.admins:
                self.add_admin({"id": "991267", "name": "Sandbox Admin", "email": "admin@sandbox.example"})
            return next(iter(self.admins.values()))

    def add_admin(self, record: Mapping[str, Any]) -> Admin:
        """
        Add an admin from a seed record.

        :param record: Mapping with optional ``id``, ``name``, ``email``.
        :return: The stored admin.
        """
        with self.lock:
            admin_id = self._id_for(record, self.admins)
            admin = Admin(
                id=admin_id,
                name=str(record.get("name") or f"Admin {admin_id}"),
                email=str(record.get("email") or f"admin-{admin_id}@sandbox.example"),
            )
            self.admins[admin.id] = admin
            return admin

    def find_tag_by_name(self, name: str) -> Tag | None:
        """
        Find a tag by name, ignoring case as Intercom does.

        :param name: The tag name.
        :return: The tag, or None.
        """
        wanted = name.casefold()
        with self.lock:
            return next((tag for tag in self.tags.values() if tag.name.casefold() == wanted), None)

    def add_tag(self, name: str, tag_id: str | None = None) -> Tag:
        """
        Create a tag.

        :param name: The tag name.
        :param tag_id: The id to use; a fresh one when None.
        :return: The new tag.
        """
        with self.lock:
            tag = Tag(id=tag_id or self.new_tag_id(), name=name)
            self.tags[tag.id] = tag
            return tag

    # -- contacts --------------------------------------------------------------------------------------

    def add_contact(self, record: Mapping[str, Any] | None = None, **fields: Any) -> Contact:
        """
        Add a contact from a seed record or a validated create request.

        ``state.add_contact({"email": "a@example.com"})`` and ``state.add_contact(email="a@example.com")`` are
        the same.

        :param record: Contact fields; ``tags`` is a list of tag ids; ``merged_into`` the id of an existing
            contact this one was merged into (see :meth:`merge_contact`).
        :param fields: More contact fields, overriding ``record``'s.
        :return: The stored contact.
        :raises SeedError: If a tag or the ``merged_into`` contact does not exist.
        """
        record = {**(record or {}), **fields}
        with self.lock:
            timestamp = now_unix()
            contact = Contact(
                id=self._id_for(record, self.contacts),
                tags=self._seed_tag_ids(record, timestamp),
                **contact_fields(record, timestamp),
            )
            self.contacts[contact.id] = contact
            merged_into = optional_str(record, "merged_into")
            if merged_into is not None:
                try:
                    self.merge_contact(contact.id, merged_into)
                except SeedError:
                    del self.contacts[contact.id]
                    raise
            return contact

    def merge_contact(self, contact_id: str, into_id: str) -> None:
        """
        Mark a contact as merged into another, as ``POST /contacts/merge`` leaves it.

        A merged contact is gone: it is absent from lists and searches, its id answers 404 (up to 2.15) or
        410 ``contact_merged`` pointing at the canonical contact (2.16 and Preview). Its tags stay with it.

        :param contact_id: The contact that disappears.
        :param into_id: The contact it was merged into.
        :raises SeedError: If either contact is unknown, or they are the same.
        """
        with self.lock:
            for wanted in (contact_id, into_id):
                if wanted not in self.contacts:
                    raise SeedError(f"cannot merge: no contact with id {wanted!r}")
            if self.canonical_contact_id(into_id) == contact_id:
                raise SeedError(f"cannot merge contact {contact_id!r} into itself")
            self.contacts[contact_id].merged_into = into_id

    def canonical_contact_id(self, contact_id: str, max_hops: int = 3) -> str:
        """
        Follow a chain of merges to the contact that now stands for this one.

        :param contact_id: A contact id.
        :param max_hops: How many merges to follow at most (Intercom resolves up to 3).
        :return: The id at the end of the chain; ``contact_id`` itself when it was not merged.
        """
        with self.lock:
            for _ in range(max_hops):
                contact = self.contacts.get(contact_id)
                if contact is None or contact.merged_into is None:
                    break
                contact_id = contact.merged_into
            return contact_id

    def live_contacts(self) -> list[Contact]:
        """
        Return the contacts that were not merged away, in creation order.

        :return: The contacts lists and searches show.
        """
        with self.lock:
            return [contact for contact in self.contacts.values() if contact.merged_into is None]

    # -- companies, conversations, tickets, segments ---------------------------------------------------

    def add_company(self, record: Mapping[str, Any] | None = None, **fields: Any) -> Company:
        """
        Add a company from a seed record or a validated create request.

        :param record: Mapping with optional ``id``, ``company_id``, ``name``, ``tags`` (tag ids), and any
            other :class:`Company` field (``plan``, ``size``, ``website``, ``industry``, ``monthly_spend``,
            ``user_count``, ``custom_attributes``, ``remote_created_at``...).
        :param fields: More company fields, overriding ``record``'s.
        :return: The stored company.
        """
        record = {**(record or {}), **fields}
        with self.lock:
            timestamp = now_unix()
            company_pk = self._id_for(record, self.companies)
            company = Company(
                id=company_pk,
                company_id=optional_str(record, "company_id") or company_pk,
                tags=self._seed_tag_ids(record, timestamp),
                **company_fields(record, timestamp),
            )
            self.companies[company.id] = company
            return company

    def add_conversation(self, record: Mapping[str, Any] | None = None, **fields: Any) -> Taggable:
        """
        Add a conversation, e.g. ``state.add_conversation(id="1001", tags=["101"])``.

        :param record: Mapping with optional ``id`` and ``tags`` (tag ids).
        :param fields: More fields, overriding ``record``'s.
        :return: The stored conversation.
        """
        return self._add_taggable(self.conversations, {**(record or {}), **fields})

    def add_ticket(self, record: Mapping[str, Any] | None = None, **fields: Any) -> Taggable:
        """
        Add a ticket, e.g. ``state.add_ticket(id="2001")``.

        :param record: Mapping with optional ``id`` and ``tags`` (tag ids).
        :param fields: More fields, overriding ``record``'s.
        :return: The stored ticket.
        """
        return self._add_taggable(self.tickets, {**(record or {}), **fields})

    def _add_taggable(self, collection: dict[str, Taggable], record: Mapping[str, Any]) -> Taggable:
        with self.lock:
            item = Taggable(id=self._id_for(record, collection), tags=self._seed_tag_ids(record, now_unix()))
            collection[item.id] = item
            return item

    def add_segment(self, record: Mapping[str, Any] | None = None, **fields: Any) -> Segment:
        """
        Add a segment, e.g. ``state.add_segment(name="VIPs", tag_ids=["102"])``.

        :param record: Mapping with optional ``id``, ``name`` and ``tag_ids`` (the tags its rules use).
        :param fields: More fields, overriding ``record``'s.
        :return: The stored segment.
        :raises SeedError: If ``tag_ids`` is not a list of known tag ids.
        """
        record = {**(record or {}), **fields}
        with self.lock:
            segment_id = self._id_for(record, self.segments)
            tag_ids = list(self._seed_tag_ids({"tags": record.get("tag_ids")}, 0))
            segment = Segment(
                id=segment_id,
                name=str(record.get("name") or f"Segment {segment_id}"),
                tag_ids=tag_ids,
            )
            self.segments[segment.id] = segment
            return segment

    def _seed_tag_ids(self, record: Mapping[str, Any], applied_at: int) -> dict[str, int]:
        tag_ids = record.get("tags") or []
        if not isinstance(tag_ids, list):
            raise SeedError(f"'tags' must be a list of tag ids, got {tag_ids!r}")
        unknown = [tag_id for tag_id in map(str, tag_ids) if tag_id not in self.tags]
        if unknown:
            raise SeedError(f"seed refers to unknown tag ids {unknown}; list them under 'tags' first")
        return {str(tag_id): applied_at for tag_id in tag_ids}
