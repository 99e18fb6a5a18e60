"""
In-memory state of the Intercom sandbox: admins, tags, contacts, companies, conversations, tickets.

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
    """A teammate of the workspace; the first admin is the owner of the sandbox token."""

    id: str
    name: str
    email: str


@dataclass
class Tag:
    """A workspace tag. Names are unique, compared case-insensitively."""

    id: str
    name: str


@dataclass
class Contact:
    """A user or lead. ``tags`` maps each applied tag id to the Unix time it was applied."""

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


@dataclass
class Company:
    """A company. ``id`` is Intercom's id, ``company_id`` is the customer's own id."""

    id: str
    company_id: str
    name: str | None = None
    tags: dict[str, int] = field(default_factory=dict)


@dataclass
class Taggable:
    """A conversation or ticket: only its id and its tags matter to the sandbox so far."""

    id: str
    tags: dict[str, int] = field(default_factory=dict)


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

        :param record: Contact fields; ``tags`` is a list of tag ids.
        :param fields: More contact fields, overriding ``record``'s.
        :return: The stored contact.
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
            return contact

    def add_company(self, record: Mapping[str, Any] | None = None, **fields: Any) -> Company:
        """
        Add a company from a seed record.

        :param record: Mapping with optional ``id``, ``company_id``, ``name``, ``tags`` (tag ids).
        :param fields: More company fields, overriding ``record``'s.
        :return: The stored company.
        """
        record = {**(record or {}), **fields}
        with self.lock:
            company_pk = _optional_id(record, "id") or self.new_object_id(self.companies)
            company = Company(
                id=company_pk,
                company_id=_optional_id(record, "company_id") or company_pk,
                name=_optional_str(record, "name"),
                tags=self._seed_tag_ids(record, now_unix()),
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
             "contacts": [{"id", "email", "external_id", "role", "name", "tags": [tag ids]}],
             "companies": [{"id", "company_id", "name", "tags": [tag ids]}],
             "conversations": [{"id"}], "tickets": [{"id"}]}

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
            for record in _records(seed, "contacts"):
                self.add_contact(record)
            for record in _records(seed, "companies"):
                self.add_company(record)
            for key, collection in (("conversations", self.conversations), ("tickets", self.tickets)):
                for record in _records(seed, key):
                    item = Taggable(id=_optional_id(record, "id") or self.new_object_id(collection))
                    item.tags = self._seed_tag_ids(record, now_unix())
                    collection[item.id] = item

    # -- request log -----------------------------------------------------------------------------------

    def log_request(self, entry: dict[str, Any]) -> None:
        """
        Append one answered request to the log.

        :param entry: ``{"method", "path", "status", "version", "body", "time", "reset_at"}``: status is None
            for a dropped connection; body is the parsed JSON body (None when absent or not JSON); time is
            when the request arrived (Unix seconds, float); reset_at is the ``X-RateLimit-Reset`` answered, or
            None when none was sent.
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
