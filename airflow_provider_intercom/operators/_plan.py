"""
What every bulk operator shares: input flattening and validation, batching, and the per-item report.

No operator keeps its own copy of these: a report means the same thing whichever task wrote it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from airflow_provider_intercom.exceptions import (
    IntercomAPIError,
    IntercomConfigurationError,
    IntercomError,
    IntercomNotFoundError,
    IntercomTransportError,
    IntercomUnauthorizedError,
)
from airflow_provider_intercom.hooks.intercom import validate_tag_name

MAX_BULK_BATCH = 50  # Intercom advises at most 50 items per POST /tags; larger calls may time out.
DEFAULT_MAX_MAP_LENGTH = 1024
DEFAULT_MAX_ITEMS = 10_000
MAX_WORKERS = 32
PROGRESS_EVERY = 50


def normalize_ids(value: Any, field: str) -> list[str]:
    """
    Turn an operator's list argument into unique, trimmed string ids, in input order.

    Accepts a list (or any iterable, including a resolved XComArg), nested one level (a list of
    chunks), or a string: a JSON list, or ids separated by commas or white space (what a Jinja
    template renders).

    :param value: the argument as given or rendered; None means "not given".
    :param field: the argument's name, quoted in errors.
    :raises IntercomConfigurationError: on a value that is not an id, naming the field and position.
    """
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as error:
                raise IntercomConfigurationError(f"{field} is not a valid JSON list: {error}") from error
        else:
            value = text.replace(",", " ").split()
    if isinstance(value, dict) or not isinstance(value, Iterable):
        raise IntercomConfigurationError(f"{field}={value!r} must be a list of ids")
    flat: list[Any] = []
    for item in value:
        if isinstance(item, list | tuple):
            flat.extend(item)
        else:
            flat.append(item)
    ids: list[str] = []
    for index, item in enumerate(flat):
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise IntercomConfigurationError(
                f"{field}[{index}]={item!r} is not an id: every item must be a non-empty string"
            )
        ids.append(str(item).strip())
    return list(dict.fromkeys(ids))


def chunk_ids(
    ids: Sequence[Any], size: int = MAX_BULK_BATCH, max_chunks: int | None = None
) -> list[list[str]]:
    """
    Split ids into chunks for dynamic task mapping, never more chunks than Airflow can map.

    ``TagContactsOperator.partial(...).expand(contact_ids=chunk_ids(ids, 500))`` maps one task per
    chunk. Airflow refuses more than ``[core] max_map_length`` (1024 by default) mapped tasks, so
    when ``size`` would make more chunks than that, the chunks grow instead.

    :param ids: the ids to split (deduplicated, order kept).
    :param size: ids per chunk.
    :param max_chunks: the most chunks to return; defaults to ``[core] max_map_length``.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise IntercomConfigurationError(f"size={size!r} must be a positive integer")
    unique = normalize_ids(list(ids), "ids")
    limit = max_chunks if max_chunks is not None else _max_map_length()
    size = max(size, math.ceil(len(unique) / limit)) if unique else size
    return [unique[start : start + size] for start in range(0, len(unique), size)]


def _max_map_length() -> int:
    try:
        from airflow.providers.common.compat.sdk import conf

        return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_MAP_LENGTH)
    except Exception:  # no Airflow configuration to read (e.g. plain Python): use Airflow's default
        return DEFAULT_MAX_MAP_LENGTH


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    """
    Split items into consecutive batches of at most ``size``.

    :param items: the items.
    :param size: the largest batch.
    """
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def validate_int_range(value: Any, field: str, low: int, high: int, why: str = "") -> int:
    """
    Return ``value`` if it is an integer from ``low`` to ``high``, or raise naming the field and range.

    :param value: the operator's argument.
    :param field: its name.
    :param low: the smallest allowed value.
    :param high: the largest allowed value.
    :param why: a reason to append to the message.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise IntercomConfigurationError(f"{field}={value!r} must be an integer from {low} to {high}{why}")
    return value


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
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise IntercomConfigurationError(f"max_items={max_items!r} must be a positive integer")
    if count > max_items:
        raise IntercomConfigurationError(
            f"{fields} hold {count} items, more than max_items={max_items}: raise max_items, or split "
            "the ids with chunk_ids() and map the operator over the chunks"
        )


def apply_each(
    log: logging.Logger | Any,
    items: Sequence[str],
    call: Callable[[str], Any],
    report: ItemReport,
    verb: str,
    noun: str,
    max_workers: int = 1,
) -> None:
    """
    Make one call per item from a bounded thread pool, recording each outcome in ``report``.

    Outcomes are recorded as calls finish; the report keeps input order whatever that order was.
    A 401 stops everything at once (queued calls are cancelled), since every call would fail.

    :param log: where progress lines go.
    :param items: the items, in input order.
    :param call: the API call for one item; its hook paces and retries it.
    :param report: where outcomes go.
    :param verb: e.g. ``untagged``, for progress lines.
    :param noun: e.g. ``contacts``, for progress lines.
    :param max_workers: calls in flight at once.
    """

    def one(item: str) -> tuple[str, str, dict[str, Any] | None]:
        try:
            call(item)
        except IntercomNotFoundError:
            return item, "not_found", None
        except IntercomUnauthorizedError:
            raise
        except IntercomError as error:
            return item, "failed", error_details(error)
        return item, "succeeded", None

    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="intercom")
    try:
        futures = [pool.submit(one, item) for item in items]
        for position, future in enumerate(as_completed(futures), start=1):
            item, kind, error = future.result()
            if kind == "succeeded":
                report.succeeded(item)
            elif kind == "not_found":
                report.not_found(item)
            else:
                report.failed(item, error or {})
            if position % PROGRESS_EVERY == 0 or position == len(items):
                log.info("%s %d/%d %s (%s)", verb, position, len(items), noun, report.counts())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def validate_ratio(value: Any, field: str) -> float:
    """
    Return a ratio from 0 to 1, or raise naming the field.

    :param value: the operator's argument.
    :param field: its name.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise IntercomConfigurationError(f"{field}={value!r} must be a number from 0.0 to 1.0")
    return float(value)


def error_details(error: IntercomError) -> dict[str, Any]:
    """
    Describe a failed call as plain JSON for a report's ``failed`` list.

    :param error: what the hook raised after its retries.
    """
    if isinstance(error, IntercomAPIError):
        return error.to_dict()
    if isinstance(error, IntercomTransportError):
        return {"status": None, "code": "no_answer", "message": error.reason, "request_id": None}
    return {"status": None, "code": type(error).__name__, "message": str(error), "request_id": None}


class ItemReport:
    """
    Where each requested item ended: succeeded, not found, or failed (with the error).

    Every item lands in exactly one list, and the lists keep input order whatever order the work
    finished in.

    :param items: the requested items, deduplicated, in input order.
    """

    def __init__(self, items: Sequence[str]) -> None:
        self.items = list(items)
        self._outcomes: dict[str, tuple[str, dict[str, Any] | None]] = {}

    def succeeded(self, item: str) -> None:
        """Record that the item was done (or, in a dry run, would be)."""
        self._outcomes[item] = ("succeeded", None)

    def not_found(self, item: str) -> None:
        """Record that Intercom does not know the item."""
        self._outcomes[item] = ("not_found", None)

    def failed(self, item: str, error: dict[str, Any]) -> None:
        """Record that the item's call failed after its retries, with the error as plain JSON."""
        self._outcomes[item] = ("failed", error)

    def outcome(self, item: str) -> tuple[str, dict[str, Any] | None] | None:
        """Return ``(kind, error)``, kind being succeeded, not_found or failed; None if not recorded."""
        return self._outcomes.get(item)

    def counts(self) -> str:
        """Return a short progress phrase such as ``3 not found, 1 failed``."""
        kinds = [kind for kind, _ in self._outcomes.values()]
        return f"{kinds.count('not_found')} not found, {kinds.count('failed')} failed"

    @property
    def done(self) -> int:
        """Return how many items have an outcome."""
        return len(self._outcomes)

    def as_dict(self, tag: dict[str, Any] | None, *, dry_run: bool, **extra: Any) -> dict[str, Any]:
        """
        Return the report as plain JSON.

        :param tag: the tag as ``{"type", "id", "name"}`` (id None when a dry run would create it).
        :param dry_run: whether writes were skipped.
        :param extra: more keys to include, e.g. how emails resolved.
        """
        missing = [item for item in self.items if item not in self._outcomes]
        if missing:
            raise RuntimeError(f"report has no outcome for {len(missing)} items, e.g. {missing[:3]}")
        report: dict[str, Any] = {
            "tag": tag,
            "requested": len(self.items),
            "succeeded": [item for item in self.items if self._outcomes[item][0] == "succeeded"],
            "not_found": [item for item in self.items if self._outcomes[item][0] == "not_found"],
            "failed": [
                {"id": item, "error": self._outcomes[item][1]}
                for item in self.items
                if self._outcomes[item][0] == "failed"
            ],
            "dry_run": dry_run,
        }
        report.update(extra)
        return report


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


def tag_summary(tag: dict[str, Any]) -> dict[str, Any]:
    """
    Keep only the tag fields a report needs: ``{"type", "id", "name"}``.

    :param tag: a tag object as Intercom returns it.
    """
    return {"type": "tag", "id": tag.get("id"), "name": tag.get("name")}
