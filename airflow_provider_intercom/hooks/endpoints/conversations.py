"""Conversation and ticket endpoints: tag and untag one item, on behalf of an admin."""

from __future__ import annotations

from typing import Any

from airflow_provider_intercom._validation import validate_id
from airflow_provider_intercom.hooks.endpoints.base import EndpointGroup, path_segment


class ConversationEndpoints(EndpointGroup):
    """The hook's ``/conversations`` and ``/tickets`` tag methods, which name the admin acting."""

    def tag_conversation(self, conversation_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        """
        Attach a tag to a conversation, on behalf of an admin (``POST /conversations/{id}/tags``).

        :param conversation_id: the conversation's id.
        :param tag_id: the tag's Intercom id.
        :param admin_id: the admin who applies the tag.
        """
        return self._tag_item("conversations", "conversation_id", conversation_id, tag_id, admin_id)

    def untag_conversation(self, conversation_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        """
        Remove a tag from a conversation (``DELETE /conversations/{id}/tags/{tag_id}``, body ``{admin_id}``).

        :param conversation_id: the conversation's id.
        :param tag_id: the tag's Intercom id.
        :param admin_id: the admin who removes the tag.
        """
        return self._untag_item("conversations", "conversation_id", conversation_id, tag_id, admin_id)

    def tag_ticket(self, ticket_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        """
        Attach a tag to a ticket (``POST /tickets/{id}/tags``); API 2.10 and later.

        :param ticket_id: the ticket's id.
        :param tag_id: the tag's Intercom id.
        :param admin_id: the admin who applies the tag.
        """
        self.require_version((2, 10), "ticket tagging")
        return self._tag_item("tickets", "ticket_id", ticket_id, tag_id, admin_id)

    def untag_ticket(self, ticket_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        """
        Remove a tag from a ticket (``DELETE /tickets/{id}/tags/{tag_id}``); API 2.10 and later.

        :param ticket_id: the ticket's id.
        :param tag_id: the tag's Intercom id.
        :param admin_id: the admin who removes the tag.
        """
        self.require_version((2, 10), "ticket tagging")
        return self._untag_item("tickets", "ticket_id", ticket_id, tag_id, admin_id)

    def _tag_item(self, kind: str, id_name: str, item_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        body = {"id": validate_id(tag_id, "tag_id"), "admin_id": validate_id(admin_id, "admin_id")}
        return self._request("POST", f"/{kind}/{path_segment(item_id, id_name)}/tags", json=body)

    def _untag_item(
        self, kind: str, id_name: str, item_id: str, tag_id: str, admin_id: str
    ) -> dict[str, Any]:
        path = f"/{kind}/{path_segment(item_id, id_name)}/tags/{path_segment(tag_id, 'tag_id')}"
        return self._request("DELETE", path, json={"admin_id": validate_id(admin_id, "admin_id")})
