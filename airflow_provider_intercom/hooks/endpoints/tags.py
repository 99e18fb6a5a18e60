"""Tag endpoints: list, find, create, rename and delete tags, and tag many contacts or companies at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_intercom._validation import batches, validate_int_range, validate_tag_name
from airflow_provider_intercom.hooks.bodies import companies_body, users_body
from airflow_provider_intercom.hooks.endpoints.base import EndpointGroup, path_segment


class TagEndpoints(EndpointGroup):
    """The hook's ``/tags`` methods, including the bulk ``POST /tags`` calls that tag many items."""

    def list_tags(self) -> list[dict[str, Any]]:
        """Return every tag of the workspace (``GET /tags``; Intercom does not paginate it)."""
        return self._request("GET", "/tags").get("data", [])

    def find_tag(self, tag_id: str) -> dict[str, Any]:
        """
        Return one tag by id (``GET /tags/{id}``).

        :param tag_id: the tag's Intercom id.
        :raises IntercomNotFoundError: when no tag has that id.
        """
        return self._request("GET", f"/tags/{path_segment(tag_id, 'tag_id')}")

    def create_or_update_tag(self, name: str, tag_id: str | None = None) -> dict[str, Any]:
        """
        Create a tag by name, or rename the tag ``tag_id`` (``POST /tags``).

        Names are case-insensitive at Intercom: creating an existing name returns that tag, so the
        call is safe to repeat.

        :param name: the tag's name.
        :param tag_id: the id of a tag to rename, or None to create.
        """
        body: dict[str, Any] = {"name": validate_tag_name(name)}
        if tag_id is not None:
            body["id"] = str(tag_id)
        return self._request("POST", "/tags", json=body)

    def find_tag_by_name(self, name: str) -> dict[str, Any] | None:
        """
        Return the tag with this name, compared case-insensitively as Intercom does, or None.

        :param name: the tag's name.
        """
        wanted = validate_tag_name(name).casefold()
        return next((tag for tag in self.list_tags() if str(tag.get("name", "")).casefold() == wanted), None)

    def get_or_create_tag(self, name: str) -> dict[str, Any]:
        """
        Return the tag with this name, creating it only when it does not exist yet.

        :param name: the tag's name.
        """
        return self.find_tag_by_name(name) or self.create_or_update_tag(name)

    def delete_tag(self, tag_id: str) -> None:
        """
        Delete a tag (``DELETE /tags/{id}``).

        :param tag_id: the tag's Intercom id.
        :raises IntercomBadRequestError: ``tag_has_dependent_objects`` when a segment uses the tag.
        """
        self._request("DELETE", f"/tags/{path_segment(tag_id, 'tag_id')}", empty_ok=True)

    def tag_users(self, tag_name: str, contact_ids: Iterable[str]) -> dict[str, Any]:
        """
        Tag many contacts in one call (``POST /tags`` with ``users: [{id}]``); creates the tag if missing.

        Up to API 2.15 one unknown id fails the whole call with 404 and nobody is tagged. From 2.16
        unknown ids are skipped, and the answer lists ``users: [{id, tagged}]`` for those tagged.

        :param tag_name: the tag's name.
        :param contact_ids: Intercom contact ids; Intercom advises at most 50 per call.
        """
        return self._request("POST", "/tags", json=users_body(tag_name, contact_ids))

    def tag_companies(self, tag_name: str, companies: Iterable[Mapping[str, str]]) -> dict[str, Any]:
        """
        Tag many companies in one call (``POST /tags`` with ``companies``); creates the tag if missing.

        :param tag_name: the tag's name.
        :param companies: ``{"id": <Intercom id>}`` or ``{"company_id": <your id>}`` items.
        """
        return self._request("POST", "/tags", json=companies_body(tag_name, companies, untag=False))

    def untag_companies(self, tag_name: str, companies: Iterable[Mapping[str, str]]) -> dict[str, Any]:
        """
        Remove a tag from many companies in one call (``POST /tags`` with ``untag: true`` on each).

        :param tag_name: the tag's name.
        :param companies: ``{"id": <Intercom id>}`` or ``{"company_id": <your id>}`` items.
        """
        return self._request("POST", "/tags", json=companies_body(tag_name, companies, untag=True))

    def apply_company_tag_plan(
        self,
        tag_name: str,
        add: Iterable[Mapping[str, str]] = (),
        remove: Iterable[Mapping[str, str]] = (),
        batch_size: int = 50,
    ) -> dict[str, list[dict[str, Any]]]:
        """
        Tag some companies and untag others: additions and removals go as separate ``POST /tags`` calls.

        The v1 API let one request mix items with and without ``untag: true``; no 2.x spec documents
        that, and 2.11 requires ``untag`` on every item of an untag request, so they are never mixed.

        :param tag_name: the tag's name (created by the first addition if missing).
        :param add: companies to tag, ``{"id": ...}`` or ``{"company_id": ...}``.
        :param remove: companies to untag, in the same form.
        :param batch_size: companies per call, 1 to 50.
        :return: ``{"added": [answers], "removed": [answers]}``, one answer per call.
        """
        validate_int_range(batch_size, "batch_size", 1, 50)
        additions, removals = list(add), list(remove)
        return {
            "added": [self.tag_companies(tag_name, batch) for batch in batches(additions, batch_size)],
            "removed": [self.untag_companies(tag_name, batch) for batch in batches(removals, batch_size)],
        }
