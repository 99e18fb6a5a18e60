"""
A sensor that waits for an Intercom tag: to exist, to be on a contact, or to be on enough contacts.

It pokes in a worker (``mode="poke"`` or ``"reschedule"``) or, with ``deferrable=True``, hands the
waiting to :class:`~airflow_provider_intercom.triggers.tags.IntercomTagTrigger` in the triggerer.
Both ask the same question, :func:`~airflow_provider_intercom.triggers.tags.check_tag`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_intercom.exceptions import IntercomConfigurationError, IntercomError
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.triggers.tags import IntercomTagTrigger, TagCondition, check_tag

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = ["IntercomTagSensor"]


class IntercomTagSensor(BaseSensorOperator):
    """
    Wait until an Intercom tag exists, optionally on a given contact and on enough contacts.

    The sensor is done when the tag exists (a name is matched case-insensitively; an id that
    answers 404 means "not yet"), and, when ``contact_id`` is given, that contact carries it, and,
    when ``min_tagged_contacts`` is given, at least that many contacts carry it. Each poke logs one
    progress line, such as ``Tag 'churn-risk' (id 104) has 3 of 5 contacts``.

    It returns the tag as its XCom value: ``{"type": "tag", "id": ..., "name": ...}``, plus
    ``"tagged_contacts": n`` when it counted.

    A transient error (5xx, 429, no answer, an unreadable body), once the hook's own retries are
    spent, is logged and the sensor pokes again. Any other error (401, 403, 400, a bad setting)
    fails the task at once. Arguments are checked when the task runs, before any request.

    :param tag_name: the tag's name, matched case-insensitively (exactly one of ``tag_name`` and
        ``tag_id``; templated).
    :param tag_id: the tag's Intercom id (templated).
    :param contact_id: wait until this contact carries the tag (templated).
    :param min_tagged_contacts: wait until at least this many contacts carry the tag; a
        non-negative integer (templated, so a rendered string of digits is accepted).
    :param deferrable: wait in the triggerer instead of a worker; defaults to
        ``[operators] default_deferrable``. The sensor checks once before deferring, and does not
        defer when the condition already holds.
    :param intercom_conn_id: the Airflow connection to use (templated).
    :param api_version: overrides the connection's ``api_version`` extra (templated).
    :param region: overrides the connection's ``region`` extra, us, eu or au (templated).
    :param hook_params: more :class:`~airflow_provider_intercom.hooks.intercom.IntercomHook`
        arguments, e.g. ``{"max_retries": 2}`` so a failing call gives up sooner and the next poke
        tries again (JSON values: they travel to the triggerer).
    :param poke_interval: seconds between two pokes (see ``BaseSensorOperator``).
    :param timeout: seconds before the sensor fails with ``AirflowSensorTimeout``; the trigger
        enforces it too.
    :param mode: ``"poke"`` (hold the worker slot) or ``"reschedule"`` (free it between pokes).
    """

    template_fields: Sequence[str] = (
        "tag_name",
        "tag_id",
        "contact_id",
        "min_tagged_contacts",
        "intercom_conn_id",
        "api_version",
        "region",
    )

    def __init__(
        self,
        *,
        tag_name: str | None = None,
        tag_id: str | None = None,
        contact_id: str | None = None,
        min_tagged_contacts: int | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        intercom_conn_id: str = IntercomHook.default_conn_name,
        api_version: str | None = None,
        region: str | None = None,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tag_name = tag_name
        self.tag_id = tag_id
        self.contact_id = contact_id
        self.min_tagged_contacts = min_tagged_contacts
        self.deferrable = deferrable
        self.intercom_conn_id = intercom_conn_id
        self.api_version = api_version
        self.region = region
        self.hook_params = hook_params

    @cached_property
    def hook(self) -> IntercomHook:
        """The hook for this task's connection, region, version and ``hook_params``."""
        params = self._hook_params()
        try:
            return IntercomHook(
                self.intercom_conn_id, region=self.region, api_version=self.api_version, **params
            )
        except TypeError as error:
            raise IntercomConfigurationError(f"hook_params={params!r}: {error}") from error

    def _hook_params(self) -> dict[str, Any]:
        if self.hook_params is None:
            return {}
        if not isinstance(self.hook_params, Mapping):
            raise IntercomConfigurationError(
                f"hook_params={self.hook_params!r} must be a mapping of IntercomHook arguments"
            )
        return dict(self.hook_params)

    def _condition(self) -> TagCondition:
        return TagCondition.from_arguments(
            self.tag_name, self.tag_id, self.contact_id, self.min_tagged_contacts
        )

    def execute(self, context: Context) -> Any:
        """
        Poke (or reschedule) until the condition holds, or defer to the trigger when ``deferrable``.

        :param context: The task context.
        """
        condition = self._condition()
        # Resolves token, region and version now, so a bad one fails before any request.
        _ = self.hook.settings
        if not self.deferrable:
            return super().execute(context)
        deadline = time.time() + self.timeout
        first = self.poke(context)
        if first.is_done:
            self.log.info("The condition already holds: not deferring")
            return first.xcom_value
        self.defer(
            trigger=IntercomTagTrigger(
                tag_name=condition.tag_name,
                tag_id=condition.tag_id,
                contact_id=condition.contact_id,
                min_tagged_contacts=condition.min_tagged_contacts,
                poke_interval=self.poke_interval,
                deadline=deadline,
                intercom_conn_id=self.intercom_conn_id,
                api_version=self.api_version,
                region=self.region,
                hook_params=self._hook_params(),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        """
        Check the condition once; done, with the tag as XCom value, when it holds.

        :param context: The task context.
        """
        condition = self._condition()
        try:
            tag = check_tag(self.hook, condition, self.log)
        except IntercomError as error:
            self.log.error(
                "Stopped waiting for %s: %s (%s); poking again would not help",
                condition.describe_tag(),
                error,
                type(error).__name__,
            )
            raise
        return PokeReturnValue(is_done=tag is not None, xcom_value=tag)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """
        Resume after the trigger: return the tag (XCom), or fail with the trigger's message.

        :param context: the task context.
        :param event: the trigger's event payload.
        :raises AirflowSensorTimeout: when the trigger gave up at the sensor's timeout.
        :raises IntercomError: when the trigger stopped on an error.
        """
        payload = event or {}
        if payload.get("status") == "success":
            tag: dict[str, Any] = payload["tag"]
            self.log.info("Success criteria met: %s", tag)
            return tag
        message = payload.get("message") or f"the trigger sent no usable event ({event!r})"
        if payload.get("status") == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        raise IntercomError(f"The Intercom tag sensor failed while deferred: {message}")
