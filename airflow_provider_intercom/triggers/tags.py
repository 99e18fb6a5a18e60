"""
The trigger behind the deferrable tag sensor, and the condition the sensor and the trigger share.

:func:`check_tag` is the one place that decides whether a tag sensor is done: the sensor calls it
on every poke, the trigger on every poll (in a thread, so the triggerer's event loop never waits
on HTTP). The hook stays the only code that speaks HTTP.

The triggerer imports this module on its event loop: it imports nothing heavy (the hook, requests,
tenacity). The hook is imported and built in the polling thread, where the connection is read too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_intercom._connection_form import DEFAULT_CONN_ID
from airflow_provider_intercom._validation import require_one_tag, validate_count, validate_text
from airflow_provider_intercom.exceptions import IntercomConfigurationError, IntercomNotFoundError

if TYPE_CHECKING:
    from airflow_provider_intercom.hooks.intercom import IntercomHook

__all__ = ["IntercomTagTrigger", "TagCondition", "check_tag"]


class ProgressLog(Protocol):
    """Where :func:`check_tag` writes: a ``logging.Logger``, or a task's or trigger's ``log``."""

    def info(self, msg: Any, /, *args: Any) -> Any:
        """
        Log a progress line.

        :param msg: %-style format string.
        """

    def warning(self, msg: Any, /, *args: Any) -> Any:
        """
        Log something the DAG author should look at.

        :param msg: %-style format string.
        """


@dataclass(frozen=True)
class TagCondition:
    """
    What a tag sensor waits for, validated; build it with :meth:`from_arguments`.

    :param tag_name: the tag's name, matched case-insensitively (exactly one of name and id).
    :param tag_id: the tag's Intercom id.
    :param contact_id: a contact that must carry the tag, or None.
    :param min_tagged_contacts: how many contacts must carry the tag at least, or None.
    """

    tag_name: str | None
    tag_id: str | None
    contact_id: str | None
    min_tagged_contacts: int | None

    @classmethod
    def from_arguments(
        cls, tag_name: Any, tag_id: Any, contact_id: Any = None, min_tagged_contacts: Any = None
    ) -> TagCondition:
        """
        Check a sensor's (rendered) arguments and return the condition, before any request.

        ``min_tagged_contacts`` may be a string of digits, as a Jinja template renders it.

        :param tag_name: the tag's name.
        :param tag_id: the tag's Intercom id.
        :param contact_id: a contact that must carry the tag.
        :param min_tagged_contacts: the least number of contacts that must carry the tag.
        :raises IntercomConfigurationError: naming the field that is wrong.
        """
        require_one_tag(tag_name, tag_id)  # the operators' rule and wording
        return cls(
            tag_name=_optional_text(tag_name, "tag_name"),
            tag_id=_optional_text(tag_id, "tag_id"),
            contact_id=_optional_text(contact_id, "contact_id"),
            min_tagged_contacts=validate_count(min_tagged_contacts, "min_tagged_contacts"),
        )

    def describe_tag(self) -> str:
        """Name the awaited tag as given, e.g. ``tag 'churn-risk'`` or ``tag id 104``."""
        return f"tag {self.tag_name!r}" if self.tag_name is not None else f"tag id {self.tag_id}"


def _optional_text(value: Any, field: str) -> str | None:
    return None if value is None else validate_text(value, field)


def check_tag(hook: IntercomHook, condition: TagCondition, log: ProgressLog) -> dict[str, Any] | None:
    """
    Check a tag condition once, log one progress line, and return the tag when it holds.

    The tag must exist; then, if asked, ``contact_id`` must carry it; then, if asked, at least
    ``min_tagged_contacts`` contacts must carry it (one search, reading ``total_count``). A tag id
    that answers 404 and a contact that answers 404 count as "not yet". So does a transient error
    (:data:`TRANSIENT_ERRORS`, once the hook's own retries are spent): it is logged as a warning.
    Every other error is raised.

    :param hook: the hook to ask.
    :param condition: what to wait for.
    :param log: where the progress line goes.
    :return: ``{"type": "tag", "id", "name"}``, plus ``"tagged_contacts": n`` when counted; None
        while the condition does not hold.
    """
    from airflow_provider_intercom.hooks.transport import TRANSIENT_ERRORS

    try:
        return _check_tag(hook, condition, log)
    except TRANSIENT_ERRORS as error:
        log.warning("Intercom did not answer for %s (%s); will check again", condition.describe_tag(), error)
        return None


def _check_tag(hook: IntercomHook, condition: TagCondition, log: ProgressLog) -> dict[str, Any] | None:
    from airflow_provider_intercom.hooks.intercom import tag_summary

    tag: dict[str, Any] | None
    if condition.tag_id is not None:
        try:
            tag = hook.find_tag(condition.tag_id)
        except IntercomNotFoundError:
            tag = None
    else:
        tag = hook.find_tag_by_name(str(condition.tag_name))
    if tag is None:
        log.info("No %s yet", condition.describe_tag())
        return None
    summary = tag_summary(tag)
    label = f"Tag {summary['name']!r} (id {summary['id']})"
    if condition.contact_id is not None:
        try:
            carried = hook.list_contact_tags(condition.contact_id)
        except IntercomNotFoundError:
            log.info("%s exists, but no contact has id %s (yet)", label, condition.contact_id)
            return None
        if not any(str(item.get("id")) == str(summary["id"]) for item in carried):
            log.info("%s exists, but contact %s does not carry it yet", label, condition.contact_id)
            return None
        label += f" is on contact {condition.contact_id}"
    if condition.min_tagged_contacts is None:
        log.info("%s", label if condition.contact_id is not None else f"{label} exists")
        return summary
    summary["tagged_contacts"] = hook.count_contacts_with_tag(str(summary["id"]))
    joint = " and" if condition.contact_id is not None else ""
    log.info(
        "%s%s has %d of %d contacts", label, joint, summary["tagged_contacts"], condition.min_tagged_contacts
    )
    return summary if summary["tagged_contacts"] >= condition.min_tagged_contacts else None


class IntercomTagTrigger(BaseTrigger):
    """
    Poll Intercom until a tag condition holds, without holding a worker slot.

    Each poll runs :func:`check_tag` (the sensor's own condition) in a thread. The trigger ends
    with one event: ``{"status": "success", "tag": {...}}`` when the condition holds,
    ``{"status": "timeout", "message": ...}`` once ``deadline`` has passed (enforced here, since
    ``dag.test()`` applies no timeout to an inline trigger), or ``{"status": "error", "message": ...}``
    on an error that polling again cannot cure (401, 403, 400, a bad setting). Transient errors are
    logged and polling goes on.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``).
    :param tag_id: the tag's Intercom id.
    :param contact_id: a contact that must carry the tag.
    :param min_tagged_contacts: the least number of contacts that must carry the tag.
    :param poke_interval: seconds between two polls.
    :param deadline: Unix time after which the trigger gives up with a timeout event; None waits
        for ever (then the task's deferral timeout alone applies).
    :param intercom_conn_id: the Airflow connection to use.
    :param api_version: overrides the connection's ``api_version`` extra.
    :param region: overrides the connection's ``region`` extra (us, eu or au).
    :param hook_params: more :class:`~airflow_provider_intercom.hooks.intercom.IntercomHook`
        arguments (JSON values), e.g. ``{"max_retries": 2}``.
    """

    def __init__(
        self,
        *,
        tag_name: str | None = None,
        tag_id: str | None = None,
        contact_id: str | None = None,
        min_tagged_contacts: int | None = None,
        poke_interval: float = 60.0,
        deadline: float | None = None,
        intercom_conn_id: str = DEFAULT_CONN_ID,
        api_version: str | None = None,
        region: str | None = None,
        hook_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.tag_name = tag_name
        self.tag_id = tag_id
        self.contact_id = contact_id
        self.min_tagged_contacts = min_tagged_contacts
        self.poke_interval = poke_interval
        self.deadline = deadline
        self.intercom_conn_id = intercom_conn_id
        self.api_version = api_version
        self.region = region
        self.hook_params = dict(hook_params or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the JSON kwargs that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "tag_name": self.tag_name,
                "tag_id": self.tag_id,
                "contact_id": self.contact_id,
                "min_tagged_contacts": self.min_tagged_contacts,
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
                "intercom_conn_id": self.intercom_conn_id,
                "api_version": self.api_version,
                "region": self.region,
                "hook_params": self.hook_params,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the condition holds, the deadline passes or an error stops it; yield one event."""
        try:
            condition = TagCondition.from_arguments(
                self.tag_name, self.tag_id, self.contact_id, self.min_tagged_contacts
            )
            # Off the event loop: importing the hook (requests, tenacity) and building it.
            hook = await asyncio.to_thread(
                make_hook,
                self.intercom_conn_id,
                region=self.region,
                api_version=self.api_version,
                **self.hook_params,
            )
        except (IntercomConfigurationError, TypeError) as error:
            yield _error_event(error)
            return
        while True:
            try:
                # The hook is synchronous: run it in a thread (with this task's logging context).
                tag = await asyncio.to_thread(check_tag, hook, condition, self.log)
            except Exception as error:
                yield _error_event(error)
                return
            if tag is not None:
                yield TriggerEvent({"status": "success", "tag": tag})
                return
            wait = self.poke_interval
            if self.deadline is not None:
                remaining = self.deadline - time.time()
                if remaining <= 0:
                    yield TriggerEvent(
                        {
                            "status": "timeout",
                            "message": f"Gave up waiting for {condition.describe_tag()}: the sensor's "
                            "timeout has passed",
                        }
                    )
                    return
                wait = min(wait, remaining)
            await asyncio.sleep(wait)


def make_hook(conn_id: str, **kwargs: Any) -> IntercomHook:
    """
    Import and build the hook; the trigger calls it in a thread.

    :param conn_id: the Airflow connection.
    :param kwargs: the hook's other arguments.
    """
    from airflow_provider_intercom.hooks.intercom import IntercomHook

    return IntercomHook(conn_id, **kwargs)


def _error_event(error: Exception) -> TriggerEvent:
    return TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
