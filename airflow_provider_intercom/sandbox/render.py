"""
Version-aware JSON rendering of sandbox objects, following the schemas of Intercom's OpenAPI descriptions.

Each renderer returns what the named schema of the requested ``Intercom-Version`` describes. The 2.11
description marks many fields required (``tag.applied_at``, ``contact.owner_id``...), so they are always sent,
as null when there is no value. ``contact.owner_id`` is an integer up to 2.15 and a string from 2.16.
"""

from __future__ import annotations

import uuid
import zlib
from typing import Any

from airflow_provider_intercom.sandbox.models import Admin, Company, Contact, Tag
from airflow_provider_intercom.sandbox.state import SandboxState

DEFAULT_VERSION = "2.11"
PREVIEW_VERSION = "Preview"
# The values the 2.16 and Preview descriptions accept for the Intercom-Version header.
SUPPORTED_VERSIONS: frozenset[str] = frozenset(
    [f"1.{minor}" for minor in range(5)] + [f"2.{minor}" for minor in range(17)] + [PREVIEW_VERSION]
)
WORKSPACE_ID = "sandbox1"


def version_at_least(version: str, minimum: tuple[int, int]) -> bool:
    """
    Tell whether an API version is the given one or newer; Preview is newer than every numbered version.

    :param version: A supported ``Intercom-Version`` value.
    :param minimum: ``(major, minor)``.
    :return: True when ``version >= minimum``.
    """
    if version == PREVIEW_VERSION:
        return True
    major, minor = (int(part) for part in version.split("."))
    return (major, minor) >= minimum


def skips_unknown_entities(version: str) -> bool:
    """
    Tell whether POST /tags skips unknown users and companies (2.16 and Preview) instead of answering 404.

    :param version: A supported ``Intercom-Version`` value.
    :return: True from 2.16 on.
    """
    return version_at_least(version, (2, 16))


def error_body(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """
    Build the ``error`` schema body shared by every failed request.

    :param code: The ``errors[].code``.
    :param message: The ``errors[].message``.
    :param request_id: The request id; a fresh uuid when None.
    :return: The ``error.list`` body.
    """
    return {
        "type": "error.list",
        "request_id": request_id or str(uuid.uuid4()),
        "errors": [{"code": code, "message": message}],
    }


def tag_basic(tag: Tag) -> dict[str, Any]:
    """
    Render the ``tag_basic`` schema.

    :param tag: The tag.
    :return: ``{type, id, name}``.
    """
    return {"type": "tag", "id": tag.id, "name": tag.name}


def tag_full(tag: Tag, applied_at: int | None = None, applied_by: Admin | None = None) -> dict[str, Any]:
    """
    Render the ``tag`` schema; ``applied_*`` are null unless this is the answer to a tagging operation.

    :param tag: The tag.
    :param applied_at: When it was applied, for a tagging operation.
    :param applied_by: Who applied it, for a tagging operation.
    :return: ``{type, id, name, applied_at, applied_by}``.
    """
    reference = None if applied_by is None else {"type": "admin", "id": applied_by.id}
    return {**tag_basic(tag), "applied_at": applied_at, "applied_by": reference}


def tag_list(tags: list[Tag]) -> dict[str, Any]:
    """
    Render the ``tag_list`` schema.

    :param tags: The tags.
    :return: ``{type: "list", data: [tag]}``.
    """
    return {"type": "list", "data": [tag_full(tag) for tag in tags]}


def admin_with_app(admin: Admin) -> dict[str, Any]:
    """
    Render the ``admin_with_app`` schema answered by GET /me.

    :param admin: The admin owning the token.
    :return: The admin with its app (workspace).
    """
    return {
        "type": "admin",
        "id": admin.id,
        "name": admin.name,
        "email": admin.email,
        "job_title": "Sandbox operator",
        "away_mode_enabled": False,
        "away_mode_reassign": False,
        "has_inbox_seat": True,
        "team_ids": [],
        "avatar": {"type": "avatar", "image_url": None},
        "email_verified": True,
        "app": {
            "type": "app",
            "id_code": WORKSPACE_ID,
            "name": "Intercom sandbox",
            "region": "US",
            "timezone": "UTC",
            "created_at": 1_700_000_000,
            "identity_verification": False,
        },
    }


def _owner_id(contact: Contact, version: str) -> int | str | None:
    if contact.owner_id is None:
        return None
    if version_at_least(version, (2, 16)):
        return contact.owner_id
    return int(contact.owner_id) if contact.owner_id.isdigit() else None


def contact(state: SandboxState, record: Contact, version: str) -> dict[str, Any]:
    """
    Render the ``contact`` schema with every field the 2.11 description requires.

    :param state: The sandbox state (to name the tags).
    :param record: The contact.
    :param version: The requested API version.
    :return: The contact object.
    """
    base_url = f"/contacts/{record.id}"
    shown_tags = [tag_id for tag_id in record.tags if tag_id in state.tags]
    empty_device = dict.fromkeys(
        [
            "language_override",
            "browser",
            "browser_version",
            "browser_language",
            "os",
            "android_app_name",
            "android_app_version",
            "android_device",
            "android_os_version",
            "android_sdk_version",
            "android_last_seen_at",
            "ios_app_name",
            "ios_app_version",
            "ios_device",
            "ios_os_version",
            "ios_sdk_version",
            "ios_last_seen_at",
        ]  # fmt: skip
    )
    return {
        "type": "contact",
        "id": record.id,
        "workspace_id": WORKSPACE_ID,
        "external_id": record.external_id,
        "role": record.role,
        "email": record.email or "",
        "email_domain": (record.email or "").rpartition("@")[2],
        "phone": record.phone,
        "formatted_phone": record.phone,
        "name": record.name,
        "owner_id": _owner_id(record, version),
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": record.unsubscribed_from_emails,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "signed_up_at": record.signed_up_at,
        "last_seen_at": record.last_seen_at,
        "last_replied_at": None,
        "last_contacted_at": None,
        "last_email_opened_at": None,
        "last_email_clicked_at": None,
        **empty_device,
        "custom_attributes": record.custom_attributes,
        "avatar": None if record.avatar is None else {"type": "avatar", "image_url": record.avatar},
        "tags": {
            "type": "list",
            # Intercom shows at most 10 here; the url lists them all.
            "data": [{"type": "tag", "id": tag_id, "url": f"/tags/{tag_id}"} for tag_id in shown_tags[:10]],
            "url": f"{base_url}/tags",
            "total_count": len(shown_tags),
            "has_more": len(shown_tags) > 10,
        },
        "notes": _empty_list(f"{base_url}/notes"),
        "companies": _empty_list(f"{base_url}/companies"),
        "location": {
            "type": "location",
            "country": None,
            "region": None,
            "city": None,
            # Production sends these two beyond the spec's location schema.
            "country_code": None,
            "continent_code": None,
        },
        "social_profiles": {"type": "list", "data": []},
        # Fields production sends beyond the spec's contact schema (recordings of 2.11 and 2.15).
        "opted_in_subscription_types": _empty_list(f"{base_url}/subscriptions"),
        "opted_out_subscription_types": _empty_list(f"{base_url}/subscriptions"),
        "utm_campaign": None,
        "utm_content": None,
        "utm_medium": None,
        "utm_source": None,
    }


def _empty_list(url: str) -> dict[str, Any]:
    return {"type": "list", "data": [], "url": url, "total_count": 0, "has_more": False}


def tagged_entities(results: list[tuple[Contact | Company, bool]]) -> list[dict[str, Any]]:
    """
    Render the ``users``/``companies`` arrays of the 2.16 ``tag_create_response``.

    :param results: Each tagged or untagged entity with True when tagged, False when untagged.
    :return: ``[{id, tagged}]``.
    """
    return [{"id": entity.id, "tagged": tagged} for entity, tagged in results]


def company(state: SandboxState, record: Company, version: str) -> dict[str, Any]:
    """
    Render the ``company`` schema.

    The 2.11 description requires ``name``, ``size``, ``website``, ``industry`` and ``last_request_at`` and
    does not let them be null, so 2.11 gets empty strings and zeros for the ones never set; other versions,
    like Intercom's own examples, leave them out.

    :param state: The sandbox state (to name the tags).
    :param record: The company.
    :param version: The requested API version.
    :return: The company object.
    """
    placeholders = version == "2.11"
    optional: dict[str, tuple[Any, Any]] = {
        "name": (record.name, ""),
        "size": (record.size, 0),
        "website": (record.website, ""),
        "industry": (record.industry, ""),
        "last_request_at": (record.last_request_at, 0),
    }
    shown = {
        key: placeholder if value is None and placeholders else value
        for key, (value, placeholder) in optional.items()
    }
    plan: dict[str, Any] = {}
    if record.plan is not None:
        # Intercom gives each plan an id; a checksum of the name keeps it stable across runs.
        plan = {"type": "plan", "id": str(zlib.crc32(record.plan.encode())), "name": record.plan}
    return {
        "type": "company",
        "company_id": record.company_id,
        "id": record.id,
        "app_id": WORKSPACE_ID,
        **{key: value for key, value in shown.items() if value is not None},
        # Without a value of its own, Intercom's examples show the creation time.
        "remote_created_at": record.created_at
        if record.remote_created_at is None
        else record.remote_created_at,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "monthly_spend": record.monthly_spend,
        "session_count": record.session_count,
        "user_count": record.user_count,
        "tags": {
            "type": "tag.list",
            "tags": [tag_basic(state.tags[tag_id]) for tag_id in record.tags if tag_id in state.tags],
        },
        # Segment membership is not modelled: segments exist only to block tag deletion.
        "segments": {"type": "segment.list", "segments": []},
        "plan": plan,
        "custom_attributes": record.custom_attributes,
    }
