"""
In-memory state of the Intercom sandbox: admins, tags, contacts, companies, conversations, tickets, segments.

Every id is a string. Ids are generated when a seed or a request does not give one. One re-entrant lock guards
the whole state: the server holds it while a route handler runs, so each request is applied atomically.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def now_unix() -> int:
    """
    Return the current time as whole Unix seconds, the unit of every Intercom timestamp.

    :return: Seconds since the epoch.
    """
    return int(time.time())


@dataclass
class Admin:
    """
    A teammate of the workspace; the first admin is the owner of the sandbox token.

    :param id: Intercom's id of the admin.
    :param name: Display name.
    :param email: The admin's email address.
    """

    id: str
    name: str
    email: str


@dataclass
class Tag:
    """
    A workspace tag. Names are unique, compared case-insensitively.

    :param id: Intercom's id of the tag.
    :param name: The tag's name.
    """

    id: str
    name: str


@dataclass
class Contact:
    """
    A user or lead.

    :param id: Intercom's id of the contact.
    :param role: ``user`` or ``lead``.
    :param email: Email address, if any.
    :param external_id: The customer's own id (``user_id`` in v1), if any.
    :param name: Display name, if any.
    :param phone: Phone number, if any.
    :param avatar: Avatar image URL, if any.
    :param owner_id: Id of the admin who owns the contact, if any.
    :param unsubscribed_from_emails: Whether the contact opted out of email.
    :param custom_attributes: Custom attribute values by name.
    :param created_at: Unix time of creation.
    :param updated_at: Unix time of the last change.
    :param signed_up_at: Unix time of sign-up, if known.
    :param last_seen_at: Unix time the contact was last seen, if known.
    :param tags: Each applied tag id mapped to the Unix time it was applied.
    :param merged_into: Id of the contact this one was merged into (2.16 answers 410 with a Link to it).
    """

    id: str
    role: str = "user"
    email: str | None = None
    external_id: str | None = None
    name: str | None = None
    phone: str | None = None
    avatar: str | None = None
    owner_id: str | None = None
    unsubscribed_from_emails: bool = False
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    created_at: int = field(default_factory=now_unix)
    updated_at: int = field(default_factory=now_unix)
    signed_up_at: int | None = None
    last_seen_at: int | None = None
    tags: dict[str, int] = field(default_factory=dict)
    merged_into: str | None = None


@dataclass
class Company:
    """
    A company. ``id`` is Intercom's id, ``company_id`` is the customer's own id (it cannot change).

    Optional values the customer never set are None; the renderer decides how each version shows them.

    :param id: Intercom's id of the company.
    :param company_id: The customer's own id of the company.
    :param name: Company name, if set.
    :param plan: Plan name, if set.
    :param size: Number of employees, if set.
    :param website: Website URL, if set.
    :param industry: Industry, if set.
    :param monthly_spend: Monthly spend in whole units.
    :param session_count: Number of sessions.
    :param user_count: Number of users.
    :param custom_attributes: Custom attribute values by name.
    :param created_at: Unix time of creation in Intercom.
    :param updated_at: Unix time of the last change.
    :param remote_created_at: Unix time the customer says the company was created, if set.
    :param last_request_at: Unix time of the last request, if known.
    :param tags: Each applied tag id mapped to the Unix time it was applied.
    """

    id: str
    company_id: str
    name: str | None = None
    plan: str | None = None
    size: int | None = None
    website: str | None = None
    industry: str | None = None
    monthly_spend: int = 0
    session_count: int = 0
    user_count: int = 0
    custom_attributes: dict[str, str] = field(default_factory=dict)
    created_at: int = field(default_factory=now_unix)
    updated_at: int = field(default_factory=now_unix)
    remote_created_at: int | None = None
    last_request_at: int | None = None
    tags: dict[str, int] = field(default_factory=dict)


@dataclass
class Taggable:
    """
    A conversation or ticket: only its id and its tags matter to the sandbox so far.

    :param id: Intercom's id of the conversation or ticket.
    :param tags: Each applied tag id mapped to the Unix time it was applied.
    :param applied_by: Each applied tag id mapped to the id of the admin who applied it (absent for seeded
        tags).
    """

    id: str
    tags: dict[str, int] = field(default_factory=dict)
    applied_by: dict[str, str] = field(default_factory=dict)


@dataclass
class Segment:
    """
    A segment. The sandbox models only what tag deletion needs: its name and the tags its rules use.

    :param id: Intercom's id of the segment.
    :param name: The segment's name.
    :param tag_ids: Ids of the tags its rules use; such a tag cannot be deleted.
    """

    id: str
    name: str
    tag_ids: list[str] = field(default_factory=list)


class SeedError(ValueError):
    """A seed file or dict does not have the documented shape."""


class SandboxState:
    """
    Everything the sandbox stores, plus the log of the requests it answered.

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
        self._request_log: list[dict[str, Any]] = []
        # Separate counters keep generated ids readable: tags look like "101", contacts like Mongo ids.
        self._tag_ids = itertools.count(101)
        self._object_ids = itertools.count(1)
        if seed is not None:
            self.load_seed(seed)

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

    # -- admins ----------------------------------------------------------------------------------------

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
            admin_id = _optional_id(record, "id") or self.new_object_id(self.admins)
            admin = Admin(
                id=admin_id,
                name=str(record.get("name") or f"Admin {admin_id}"),
                email=str(record.get("email") or f"admin-{admin_id}@sandbox.example"),
            )
            self.admins[admin.id] = admin
            return admin

    # -- tags ------------------------------------------------------------------------------------------

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

    def get_or_create_tag(self, name: str) -> Tag:
        """
        Return the tag with this name (any case), creating it when absent.

        :param name: The tag name.
        :return: The tag.
        """
        with self.lock:
            return self.find_tag_by_name(name) or self.add_tag(name)

    def delete_tag(self, tag_id: str) -> None:
        """
        Delete a tag and remove it from everything it was applied to.

        :param tag_id: The tag id.
        """
        with self.lock:
            del self.tags[tag_id]
            for tagged in self._tagged_objects():
                tagged.tags.pop(tag_id, None)
                if isinstance(tagged, Taggable):
                    tagged.applied_by.pop(tag_id, None)

    def segments_using_tag(self, tag_id: str) -> list[Segment]:
        """
        Return the segments whose rules use a tag, which stop it from being deleted.

        :param tag_id: The tag id.
        :return: The segments, in the order they were added.
        """
        with self.lock:
            return [segment for segment in self.segments.values() if tag_id in segment.tag_ids]

    def _tagged_objects(self) -> Iterator[Contact | Company | Taggable]:
        yield from self.contacts.values()
        yield from self.companies.values()
        yield from self.conversations.values()
        yield from self.tickets.values()

    # -- contacts and companies ------------------------------------------------------------------------

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
                id=_optional_id(record, "id") or self.new_object_id(self.contacts),
                role=str(record.get("role") or "user"),
                email=_optional_str(record, "email"),
                external_id=_optional_id(record, "external_id"),
                name=_optional_str(record, "name"),
                phone=_optional_str(record, "phone"),
                avatar=_optional_str(record, "avatar"),
                owner_id=_optional_id(record, "owner_id"),
                unsubscribed_from_emails=bool(record.get("unsubscribed_from_emails") or False),
                custom_attributes=dict(record.get("custom_attributes") or {}),
                created_at=int(record.get("created_at") or timestamp),
                updated_at=int(record.get("updated_at") or timestamp),
                signed_up_at=record.get("signed_up_at"),
                last_seen_at=record.get("last_seen_at"),
                tags=self._seed_tag_ids(record, timestamp),
            )
            self.contacts[contact.id] = contact
            merged_into = _optional_id(record, "merged_into")
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
            company_pk = _optional_id(record, "id") or self.new_object_id(self.companies)
            company = Company(
                id=company_pk,
                company_id=_optional_id(record, "company_id") or company_pk,
                name=_optional_str(record, "name"),
                plan=_optional_str(record, "plan"),
                size=record.get("size"),
                website=_optional_str(record, "website"),
                industry=_optional_str(record, "industry"),
                monthly_spend=int(record.get("monthly_spend") or 0),
                session_count=int(record.get("session_count") or 0),
                user_count=int(record.get("user_count") or 0),
                custom_attributes={
                    str(k): str(v) for k, v in (record.get("custom_attributes") or {}).items()
                },
                created_at=int(record.get("created_at") or timestamp),
                updated_at=int(record.get("updated_at") or timestamp),
                remote_created_at=record.get("remote_created_at"),
                last_request_at=record.get("last_request_at"),
                tags=self._seed_tag_ids(record, timestamp),
            )
            self.companies[company.id] = company
            return company

    def find_company(self, *, intercom_id: str | None, company_id: str | None) -> Company | None:
        """
        Find a company by Intercom id or by the customer's ``company_id``.

        :param intercom_id: Intercom's id, or None.
        :param company_id: The customer's id, or None.
        :return: The company, or None.
        """
        with self.lock:
            if intercom_id is not None and intercom_id in self.companies:
                return self.companies[intercom_id]
            if company_id is not None:
                return next((c for c in self.companies.values() if c.company_id == company_id), None)
            return None

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
            item = Taggable(
                id=_optional_id(record, "id") or self.new_object_id(collection),
                tags=self._seed_tag_ids(record, now_unix()),
            )
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
            segment_id = _optional_id(record, "id") or self.new_object_id(self.segments)
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

    # -- seed ------------------------------------------------------------------------------------------

    def load_seed(self, seed: Mapping[str, Any] | str | Path) -> None:
        """
        Add the objects of a seed to the state.

        Format (every key optional; ids generated when absent, always strings)::

            {"admins": [{"id", "name", "email"}], "tags": [{"id", "name"}],
             "contacts": [{"id", "email", "external_id", "role", "name", "tags": [tag ids],
                           "merged_into": contact id}],
             "companies": [{"id", "company_id", "name", "tags": [tag ids], "plan", "size", ...}],
             "conversations": [{"id", "tags"}], "tickets": [{"id", "tags"}],
             "segments": [{"id", "name", "tag_ids": [tag ids]}]}

        ``merged_into`` may name a contact listed later in the same seed.

        :param seed: The seed mapping, or the path of a JSON file holding one.
        :raises SeedError: If the seed does not have that shape.
        """
        if isinstance(seed, str | Path):
            seed = json.loads(Path(seed).read_text(encoding="utf-8"))
        if not isinstance(seed, Mapping):
            raise SeedError("a seed must be a JSON object")
        with self.lock:
            for record in _records(seed, "admins"):
                self.add_admin(record)
            for record in _records(seed, "tags"):
                if not isinstance(record.get("name"), str):
                    raise SeedError(f"every seeded tag needs a string 'name', got {record!r}")
                self.add_tag(record["name"], _optional_id(record, "id"))
            merges: list[tuple[str, str]] = []
            for record in _records(seed, "contacts"):
                contact = self.add_contact({**record, "merged_into": None})
                merged_into = _optional_id(record, "merged_into")
                if merged_into is not None:
                    merges.append((contact.id, merged_into))
            # After every contact exists, so a contact may be merged into one seeded after it.
            for contact_id, into_id in merges:
                self.merge_contact(contact_id, into_id)
            for record in _records(seed, "companies"):
                self.add_company(record)
            for record in _records(seed, "conversations"):
                self.add_conversation(record)
            for record in _records(seed, "tickets"):
                self.add_ticket(record)
            for record in _records(seed, "segments"):
                self.add_segment(record)

    # -- request log -----------------------------------------------------------------------------------

    def log_request(self, entry: dict[str, Any]) -> None:
        """
        Append one answered request to the log.

        :param entry: ``{"method", "path", "query", "status", "version", "body", "time", "reset_at"}``:
            query maps each query-string parameter to its last value; status is None for a dropped connection;
            body is the parsed JSON body (None when absent or not JSON), for every method including DELETE;
            time is when the request arrived (Unix seconds, float); reset_at is the ``X-RateLimit-Reset``
            answered, or None when none was sent.
        """
        with self.lock:
            self._request_log.append(entry)

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """
        Return a copy of the request log, oldest first.

        :return: The log entries.
        """
        with self.lock:
            return copy.deepcopy(self._request_log)

    def clear_request_log(self) -> None:
        """Forget the requests logged so far."""
        with self.lock:
            self._request_log.clear()


def _records(seed: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    records = seed.get(key) or []
    if not isinstance(records, list) or not all(isinstance(record, Mapping) for record in records):
        raise SeedError(f"seed key {key!r} must be a list of objects")
    return records


def _optional_id(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return None if value is None else str(value)


def _optional_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return None if value is None else str(value)
