"""
The sandbox's entities: admins, tags, contacts, companies, conversations, tickets and segments.

Every id is a string. They are stored in :class:`~airflow_provider_intercom.sandbox.state.SandboxState`
and changed by :class:`~airflow_provider_intercom.sandbox.backend.IntercomBackend`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_intercom.sandbox.seed import SeedError

# SandboxState and SeedError have always been importable from here; SandboxState lives in state.py,
# which imports these entities, so it is served lazily by __getattr__ below.
__all__ = ["Admin", "Company", "Contact", "SeedError", "Segment", "Tag", "Taggable", "now_unix"]


def __getattr__(name: str) -> Any:
    if name == "SandboxState":
        from airflow_provider_intercom.sandbox.state import SandboxState

        return SandboxState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
