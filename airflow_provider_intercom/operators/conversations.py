"""
Tag and untag conversations and tickets, one call each, on behalf of an admin.

Every operator here returns the per-item report (see :mod:`~airflow_provider_intercom.operators.tags`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_intercom._validation import validate_text, validate_workers
from airflow_provider_intercom.exceptions import IntercomConfigurationError
from airflow_provider_intercom.operators.base import (
    _TagTaskOperator,
    documents_shared_parameters,
    tag_task_fields,
)
from airflow_provider_intercom.operators.bulk import BulkWriter
from airflow_provider_intercom.operators.report import ItemReport

ItemCall = Callable[[str, str, str], Any]  # (item id, tag id, admin id) -> Intercom's answer


@documents_shared_parameters
class TagConversationsOperator(_TagTaskOperator):
    """
    Tag (or, with ``untag=True``, untag) conversations, one call each. Returns the per-item report.

    :param conversation_ids: conversation ids (templated).
    :param admin_id: the admin who applies or removes the tag (Intercom requires one; templated).
    :param untag: remove the tag instead of applying it; the tag is then never created.
    :param max_workers: calls in flight at once, 1 to 32; the hook's pacer keeps them within the rate limit.
    """

    template_fields: Sequence[str] = tag_task_fields("conversation_ids", "admin_id")
    id_fields = ("conversation_ids",)
    sql_columns = {"id": "conversation_ids", "conversation_id": "conversation_ids"}
    noun = "conversations"

    def __init__(
        self,
        *,
        conversation_ids: Any = None,
        admin_id: str | None = None,
        untag: bool = False,
        max_workers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conversation_ids = conversation_ids
        self.admin_id, self.untag, self.max_workers = admin_id, untag, max_workers

    def _item_calls(self) -> tuple[ItemCall, ItemCall]:
        """Return the hook's (tag, untag) calls for one item."""
        return self.hook.tag_conversation, self.hook.untag_conversation

    def _check_arguments(self) -> None:
        validate_workers(self.max_workers)
        validate_text(self.admin_id, "admin_id", "admin id")

    def _may_create_tag(self) -> bool:
        return not self.untag

    def _write(self, tag: dict[str, Any], writes: ItemReport, inputs: dict[str, list[str]]) -> None:
        tag_call, untag_call = self._item_calls()
        action = untag_call if self.untag else tag_call
        BulkWriter(self.hook, self.log, writes).each(
            lambda item: action(item, tag["id"], str(self.admin_id).strip()),
            "untagged" if self.untag else "tagged",
            self.noun,
            self.max_workers,
        )


@documents_shared_parameters
class TagTicketsOperator(TagConversationsOperator):
    """
    Tag (or, with ``untag=True``, untag) tickets, one call each; needs API 2.10 or later.

    An older ``api_version`` is refused before any request. It takes the arguments of
    :class:`TagConversationsOperator`, with ``ticket_ids`` for ``conversation_ids``. Returns the
    per-item report.

    :param ticket_ids: ticket ids (templated).
    """

    template_fields: Sequence[str] = tag_task_fields("ticket_ids", "admin_id")
    id_fields = ("ticket_ids",)
    sql_columns = {"id": "ticket_ids", "ticket_id": "ticket_ids"}
    noun = "tickets"

    def __init__(self, *, ticket_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticket_ids = ticket_ids

    def _item_calls(self) -> tuple[ItemCall, ItemCall]:
        return self.hook.tag_ticket, self.hook.untag_ticket

    def _check_arguments(self) -> None:
        if self.conversation_ids is not None:  # the one argument it inherits but does not take
            raise IntercomConfigurationError("TagTicketsOperator takes ticket_ids, not conversation_ids")
        super()._check_arguments()
        self.hook.require_version((2, 10), "ticket tagging")
