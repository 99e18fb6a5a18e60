"""
Routes of conversation and ticket tags, which name the acting admin in the body, unlike contact tags.

Tickets have tags from ``Intercom-Version`` 2.10 on; older versions answer their paths as unknown ones.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_intercom.sandbox import render
from airflow_provider_intercom.sandbox.backend import IntercomBackend, find
from airflow_provider_intercom.sandbox.errors import (
    AdminNotFound,
    ConversationNotFound,
    NotAJsonObject,
    ObjectTagNotFound,
    TicketNotFound,
)
from airflow_provider_intercom.sandbox.models import Admin, Taggable
from airflow_provider_intercom.sandbox.routes.params import object_body, required_id
from airflow_provider_intercom.sandbox.routing import ApiRequest, ApiResponse, Router, ok

router = Router()


def _tagging_body(request: ApiRequest) -> dict[str, Any]:
    # No body at all is a missing admin_id (parameter_not_found), not a malformed body.
    return object_body(request, NotAJsonObject) if request.raw_body.strip() else {}


def _acting_admin(backend: IntercomBackend, body: dict[str, Any]) -> Admin:
    # The body's admin_id (required) names who tags or untags.
    return find(backend.state.admins, required_id(body, "admin_id"), AdminNotFound)


def _attach(backend: IntercomBackend, request: ApiRequest, item: Taggable) -> ApiResponse:
    body = _tagging_body(request)
    tag_id = required_id(body, "id")
    admin = _acting_admin(backend, body)
    tag = backend.tag(tag_id, ObjectTagNotFound)
    applied_at, applied_by = backend.attach_object_tag(item, tag, admin)
    return ok(render.tag_full(tag, applied_at, applied_by))


def _detach(backend: IntercomBackend, request: ApiRequest, item: Taggable, tag_id: str) -> ApiResponse:
    admin = _acting_admin(backend, _tagging_body(request))
    tag = backend.tag(tag_id, ObjectTagNotFound)
    backend.detach_object_tag(item, tag, admin)
    return ok(render.tag_full(tag))  # production answers an untagging with applied_at and applied_by null


@router.route("POST", "/conversations/{conversation_id}/tags")
def attach_conversation_tag(
    backend: IntercomBackend, request: ApiRequest, params: dict[str, str]
) -> ApiResponse:
    """
    Tag a conversation (``attachTagToConversation``).

    :param backend: The sandbox backend.
    :param request: The request, body ``{"id": tag_id, "admin_id": admin_id}`` (both required).
    :param params: ``conversation_id``.
    :return: ``tag`` applied by that admin; 404 ``not_found`` (conversation), ``admin_not_found`` or
        ``tag_not_found``; 400 ``parameter_not_found`` when ``id`` or ``admin_id`` is missing.
    """
    return _attach(
        backend, request, find(backend.state.conversations, params["conversation_id"], ConversationNotFound)
    )


@router.route("DELETE", "/conversations/{conversation_id}/tags/{tag_id}")
def detach_conversation_tag(
    backend: IntercomBackend, request: ApiRequest, params: dict[str, str]
) -> ApiResponse:
    """
    Remove a tag from a conversation (``detachTagFromConversation``); the DELETE carries a JSON body.

    :param backend: The sandbox backend.
    :param request: The request, body ``{"admin_id": admin_id}`` (required).
    :param params: ``conversation_id`` and ``tag_id``.
    :return: ``tag``; 404 ``not_found`` (conversation), ``admin_not_found`` or ``tag_not_found``; 400
        ``parameter_not_found`` without ``admin_id``.
    """
    return _detach(
        backend,
        request,
        find(backend.state.conversations, params["conversation_id"], ConversationNotFound),
        params["tag_id"],
    )


@router.route("POST", "/tickets/{ticket_id}/tags", since=(2, 10))
def attach_ticket_tag(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Tag a ticket (``attachTagToTicket``, from 2.10).

    :param backend: The sandbox backend.
    :param request: The request, body ``{"id": tag_id, "admin_id": admin_id}`` (both required).
    :param params: ``ticket_id``.
    :return: ``tag``; 404 ``ticket_not_found``, ``admin_not_found`` or ``tag_not_found``; 400
        ``parameter_not_found`` when ``id`` or ``admin_id`` is missing.
    """
    ticket = find(backend.state.tickets, params["ticket_id"], TicketNotFound)
    return _attach(backend, request, ticket)


@router.route("DELETE", "/tickets/{ticket_id}/tags/{tag_id}", since=(2, 10))
def detach_ticket_tag(backend: IntercomBackend, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
    """
    Remove a tag from a ticket (``detachTagFromTicket``, from 2.10); the DELETE carries a JSON body.

    :param backend: The sandbox backend.
    :param request: The request, body ``{"admin_id": admin_id}`` (required).
    :param params: ``ticket_id`` and ``tag_id``.
    :return: ``tag``; 404 ``ticket_not_found``, ``admin_not_found`` or ``tag_not_found``; 400
        ``parameter_not_found`` without ``admin_id``.
    """
    return _detach(
        backend, request, find(backend.state.tickets, params["ticket_id"], TicketNotFound), params["tag_id"]
    )
