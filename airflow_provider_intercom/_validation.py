"""
Every argument rule, in one place, with the wording the errors quote; and batching.

Hooks, operators, sensors and triggers all check their arguments here, so a field is refused in the
same words whichever class received it. This module imports nothing of the provider but its
exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_intercom.exceptions import IntercomConfigurationError

MAX_BULK_BATCH = 50  # Intercom advises at most 50 items per POST /tags; larger calls may time out.
DEFAULT_MAX_ITEMS = 10_000
MAX_WORKERS = 32
# Intercom's specs give no limit; a name this long is almost surely a template that rendered a list.
MAX_TAG_NAME_LENGTH = 255


def is_plain_id(value: Any) -> bool:
    """
    Tell whether ``value`` can be an Intercom id: a non-blank string or an integer (not a bool).

    :param value: the value to check.
    """
    return not isinstance(value, bool) and isinstance(value, str | int) and bool(str(value).strip())


def validate_id(value: Any, name: str) -> str:
    """
    Return an id as a trimmed string, refusing blanks and non-ids with the argument's name.

    :param value: the id as given.
    :param name: the argument's name, quoted in the error.
    """
    if not is_plain_id(value):
        raise IntercomConfigurationError(f"{name}={value!r} must be a non-empty Intercom id (a string)")
    return str(value).strip()


def validate_text(value: Any, field: str, what: str = "string") -> str:
    """
    Return a non-empty string (or integer) argument, trimmed, or raise naming the field.

    :param value: the argument as given or rendered.
    :param field: its name, quoted in the error.
    :param what: what it must be, e.g. ``admin id``, for the message.
    """
    if not is_plain_id(value):
        raise IntercomConfigurationError(f"{field}={value!r} must be a non-empty {what}")
    return str(value).strip()


def validate_id_key(id_key: Any) -> None:
    """
    Refuse an ``id_key`` that cannot name a column.

    :param id_key: the argument; None means "not given".
    """
    if id_key is not None and (not isinstance(id_key, str) or not id_key.strip()):
        raise IntercomConfigurationError(f"id_key={id_key!r} must be a non-empty column name")


def refuse_rendered_none(text: str, field: str) -> None:
    """
    Refuse a template that rendered nothing as the text ``None`` (or ``null``), before it is read as an id.

    A template such as ``"{{ ti.xcom_pull('export') }}"`` renders ``None`` when the upstream task
    pushed nothing; read as text it would be one id named "None", and a sync would then plan to
    untag every member.

    :param text: the rendered argument.
    :param field: its name, quoted in the error.
    """
    if text.strip() in ("None", "null"):
        raise IntercomConfigurationError(
            f"{field}={text.strip()!r} is what a template renders for a missing value: most likely an "
            "upstream XCom that was never pushed (a task that returned nothing, or a wrong task_ids or "
            "key in xcom_pull). Pass the XComArg itself (task.output) or fix the template"
        )


def validate_tag_name(name: Any) -> str:
    """
    Return a tag name, trimmed, or raise naming ``tag_name`` and what is allowed.

    :param name: the name to check.
    """
    if not isinstance(name, str) or not name.strip():
        raise IntercomConfigurationError(f"tag_name={name!r} must be a non-empty tag name")
    if len(name.strip()) > MAX_TAG_NAME_LENGTH:
        raise IntercomConfigurationError(
            f"tag_name is {len(name.strip())} characters long; at most {MAX_TAG_NAME_LENGTH} are allowed"
        )
    return name.strip()


def require_one_tag(tag_name: Any, tag_id: Any) -> None:
    """
    Refuse anything but exactly one non-empty tag name or tag id, naming the fields.

    :param tag_name: the task's ``tag_name``.
    :param tag_id: the task's ``tag_id``.
    """
    if (tag_name is None) == (tag_id is None):
        given = "both" if tag_name is not None else "neither"
        raise IntercomConfigurationError(f"Give exactly one of tag_name and tag_id (got {given})")
    for field, value in (("tag_name", tag_name), ("tag_id", tag_id)):
        if value is not None and (not isinstance(value, str | int) or not str(value).strip()):
            raise IntercomConfigurationError(f"{field}={value!r} must be a non-empty string")
    if tag_name is not None:
        validate_tag_name(tag_name)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_int_range(value: Any, field: str, low: int, high: int, why: str = "") -> int:
    """
    Return ``value`` if it is an integer from ``low`` to ``high``, or raise naming the field and range.

    :param value: the argument.
    :param field: its name.
    :param low: the smallest allowed value.
    :param high: the largest allowed value.
    :param why: a reason to append to the message.
    """
    if not _is_int(value) or not low <= value <= high:
        raise IntercomConfigurationError(f"{field}={value!r} must be an integer from {low} to {high}{why}")
    return int(value)


def validate_positive_int(value: Any, field: str) -> int:
    """
    Return ``value`` if it is an integer of at least 1, or raise naming the field.

    :param value: the argument.
    :param field: its name.
    """
    if not _is_int(value) or value < 1:
        raise IntercomConfigurationError(f"{field}={value!r} must be a positive integer")
    return int(value)


def validate_count(value: Any, field: str) -> int | None:
    """
    Return a count of at least 0, or None when not given; a string of digits (a rendered template) is read.

    :param value: the argument as given or rendered.
    :param field: its name.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if not _is_int(value) or value < 0:
        raise IntercomConfigurationError(f"{field}={value!r} must be a non-negative integer")
    return int(value)


def validate_batch_size(batch_size: Any) -> int:
    """
    Return ``batch_size`` if it is an integer from 1 to 50, or raise naming the field.

    :param batch_size: the operator's argument.
    """
    return validate_int_range(
        batch_size, "batch_size", 1, MAX_BULK_BATCH, " (Intercom advises at most 50 items per bulk call)"
    )


def validate_workers(max_workers: Any) -> int:
    """
    Return ``max_workers`` if it is an integer from 1 to 32, or raise naming the field.

    :param max_workers: the operator's argument.
    """
    return validate_int_range(max_workers, "max_workers", 1, MAX_WORKERS)


def check_max_items(count: int, max_items: Any, fields: str) -> None:
    """
    Refuse more items than ``max_items``, a guard against an export that returned far more than meant.

    :param count: how many items the task was given, after dedupe.
    :param max_items: the operator's limit.
    :param fields: the argument names the items came from, for the message.
    """
    limit = validate_positive_int(max_items, "max_items")
    if count > limit:
        raise IntercomConfigurationError(
            f"{fields} hold {count} items, more than max_items={limit}: raise max_items, or split "
            "the ids with chunk_ids() and map the operator over the chunks"
        )


def validate_ratio(value: Any, field: str) -> float:
    """
    Return a ratio from 0 to 1, or raise naming the field.

    :param value: the argument.
    :param field: its name.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise IntercomConfigurationError(f"{field}={value!r} must be a number from 0.0 to 1.0")
    return float(value)


def validate_flag(value: Any, field: str) -> bool:
    """
    Return a boolean argument, accepting the strings a template renders (``"True"``, ``"false"``).

    :param value: the argument as given or rendered.
    :param field: its name, quoted in errors.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise IntercomConfigurationError(f"{field}={value!r} must be True or False")


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    """
    Split items into consecutive batches of at most ``size``.

    :param items: the items.
    :param size: the largest batch.
    """
    return [list(items[start : start + size]) for start in range(0, len(items), size)]
