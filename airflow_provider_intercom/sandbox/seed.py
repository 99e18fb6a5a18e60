"""
The seed format: initial sandbox data as a JSON file or mapping, and the records it is made of.

Format (every key optional; ids generated when absent, always strings)::

    {"admins": [{"id", "name", "email"}], "tags": [{"id", "name"}],
     "contacts": [{"id", "email", "external_id", "role", "name", "tags": [tag ids],
                   "merged_into": contact id}],
     "companies": [{"id", "company_id", "name", "tags": [tag ids], "plan", "size", ...}],
     "conversations": [{"id", "tags"}], "tickets": [{"id", "tags"}],
     "segments": [{"id", "name", "tag_ids": [tag ids]}]}

The ``SandboxState.add_*`` methods take the same records, so tests seed one object at a time in this
format too; the field readers here turn a record into an entity's fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_intercom.sandbox.state import SandboxState


class SeedError(ValueError):
    """A seed file or dict does not have the documented shape."""


def load_seed(state: SandboxState, seed: Mapping[str, Any] | str | Path) -> None:
    """
    Add the objects of a seed to a state; ``merged_into`` may name a contact listed later.

    :param state: The state to fill.
    :param seed: The seed mapping, or the path of a JSON file holding one.
    :raises SeedError: If the seed does not have the documented shape.
    """
    if isinstance(seed, str | Path):
        seed = json.loads(Path(seed).read_text(encoding="utf-8"))
    if not isinstance(seed, Mapping):
        raise SeedError("a seed must be a JSON object")
    with state.lock:
        for record in _records(seed, "admins"):
            state.add_admin(record)
        for record in _records(seed, "tags"):
            if not isinstance(record.get("name"), str):
                raise SeedError(f"every seeded tag needs a string 'name', got {record!r}")
            state.add_tag(record["name"], optional_str(record, "id"))
        merges: list[tuple[str, str]] = []
        for record in _records(seed, "contacts"):
            contact = state.add_contact({**record, "merged_into": None})
            merged_into = optional_str(record, "merged_into")
            if merged_into is not None:
                merges.append((contact.id, merged_into))
        # After every contact exists, so a contact may be merged into one seeded after it.
        for contact_id, into_id in merges:
            state.merge_contact(contact_id, into_id)
        for key, add in (
            ("companies", state.add_company),
            ("conversations", state.add_conversation),
            ("tickets", state.add_ticket),
            ("segments", state.add_segment),
        ):
            for record in _records(seed, key):
                add(record)


def _records(seed: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    records = seed.get(key) or []
    if not isinstance(records, list) or not all(isinstance(record, Mapping) for record in records):
        raise SeedError(f"seed key {key!r} must be a list of objects")
    return records


def optional_str(record: Mapping[str, Any], key: str) -> str | None:
    """
    Read an optional string (or id, which may be seeded as a number) from a record.

    :param record: The record.
    :param key: The member.
    :return: The value as a string, or None when absent or null.
    """
    value = record.get(key)
    return None if value is None else str(value)


def contact_fields(record: Mapping[str, Any], timestamp: int) -> dict[str, Any]:
    """
    Read a contact record's fields, but for ``id``, ``tags`` and ``merged_into``.

    A contact without a role is a user.

    :param record: The record.
    :param timestamp: The creation and update time when the record gives none.
    :return: Keyword arguments of :class:`~airflow_provider_intercom.sandbox.models.Contact`.
    """
    return {
        "role": str(record.get("role") or "user"),
        **{
            key: optional_str(record, key)
            for key in ("email", "external_id", "name", "phone", "avatar", "owner_id")
        },
        "unsubscribed_from_emails": bool(record.get("unsubscribed_from_emails") or False),
        "custom_attributes": dict(record.get("custom_attributes") or {}),
        **_timestamps(record, timestamp),
        "signed_up_at": record.get("signed_up_at"),
        "last_seen_at": record.get("last_seen_at"),
    }


def company_fields(record: Mapping[str, Any], timestamp: int) -> dict[str, Any]:
    """
    Read a company record's fields, but for ``id``, ``company_id`` and ``tags``.

    Counts default to 0, and custom attribute values are kept as strings, as the schemas type them.

    :param record: The record.
    :param timestamp: The creation and update time when the record gives none.
    :return: Keyword arguments of :class:`~airflow_provider_intercom.sandbox.models.Company`.
    """
    return {
        **{key: optional_str(record, key) for key in ("name", "plan", "website", "industry")},
        "size": record.get("size"),
        **{key: int(record.get(key) or 0) for key in ("monthly_spend", "session_count", "user_count")},
        "custom_attributes": {str(k): str(v) for k, v in (record.get("custom_attributes") or {}).items()},
        **_timestamps(record, timestamp),
        "remote_created_at": record.get("remote_created_at"),
        "last_request_at": record.get("last_request_at"),
    }


def _timestamps(record: Mapping[str, Any], timestamp: int) -> dict[str, int]:
    # A record that gives neither was created, and last changed, at ``timestamp``.
    return {key: int(record.get(key) or timestamp) for key in ("created_at", "updated_at")}
