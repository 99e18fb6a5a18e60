"""Contact endpoints: read, update, search and resolve contacts, and tag or untag one contact."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_intercom._validation import batches, validate_id, validate_int_range
from airflow_provider_intercom.exceptions import IntercomConfigurationError, IntercomNotFoundError
from airflow_provider_intercom.hooks.endpoints.base import EndpointGroup, path_segment
from airflow_provider_intercom.hooks.matching import ContactMatches
from airflow_provider_intercom.hooks.pages import cursor_pages

SEARCH_PAGE = 150  # the most contacts a search answers per page


class ContactEndpoints(EndpointGroup):
    """The hook's ``/contacts`` methods."""

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """
        Return one contact (``GET /contacts/{id}``).

        From API 2.16 a merged contact answers 410 ``contact_merged`` with a canonical ``Link``
        to the contact it was merged into; the hook follows that link once, and logs it.

        :param contact_id: the contact's Intercom id.
        """
        path = f"/contacts/{path_segment(contact_id, 'contact_id')}"
        try:
            return self._request("GET", path)
        except IntercomNotFoundError as error:
            target = urlsplit(error.canonical or "").path
            if error.status != 410 or not target.startswith("/contacts/"):
                raise
            self.log.info("Contact %s was merged; following its canonical link to %s", contact_id, target)
            return self._request("GET", target)

    def update_contact(self, contact_id: str, **fields: Any) -> dict[str, Any]:
        """
        Update a contact's fields (``PUT /contacts/{id}``), e.g. ``name`` or ``custom_attributes``.

        Tags are not contact fields: change them with :meth:`tag_contact` and :meth:`untag_contact`.

        :param contact_id: the contact's Intercom id.
        :param fields: the fields to set, as in Intercom's ``update_contact_request``.
        """
        if "tags" in fields:
            raise IntercomConfigurationError(
                "update_contact() cannot change tags: use tag_contact() and untag_contact()"
            )
        if not fields:
            raise IntercomConfigurationError("update_contact() needs at least one field to set")
        return self._request("PUT", f"/contacts/{path_segment(contact_id, 'contact_id')}", json=fields)

    def resolve_contacts(
        self,
        emails: Iterable[str] | None = None,
        external_ids: Iterable[str] | None = None,
        chunk_size: int = 50,
    ) -> dict[str, Any]:
        """
        Find the contacts behind emails and external ids, with ``IN`` searches in chunks.

        One email can belong to several contacts (a user and a lead, say): every match is kept,
        and the value is listed under ``ambiguous`` as well. Emails match case-insensitively.

        :param emails: email addresses to look up.
        :param external_ids: your ``external_id`` values to look up.
        :param chunk_size: values per search request.
        :return: ``{"emails": {value: [contact ids]}, "external_ids": {value: [contact ids]},
            "unresolved": {"emails": [...], "external_ids": [...]},
            "ambiguous": {"emails": [...], "external_ids": [...]}}``, in input order.
        """
        result: dict[str, Any] = {"emails": {}, "external_ids": {}, "unresolved": {}, "ambiguous": {}}
        for kind, field_name, values in (
            ("emails", "email", emails),
            ("external_ids", "external_id", external_ids),
        ):
            matches = ContactMatches(field_name, values)
            for chunk in batches(matches.wanted, chunk_size):
                query = {"field": field_name, "operator": "IN", "value": chunk}
                for contact in self.search_contacts(query, per_page=150):
                    matches.add(contact)
            result[kind] = matches.found()
            result["unresolved"][kind] = matches.unresolved()
            result["ambiguous"][kind] = matches.ambiguous()
        return result

    def searchable_contact_ids(self, contact_ids: Iterable[str]) -> set[str]:
        """
        Return the ids among ``contact_ids`` that search finds: one ``id IN`` search per 150 ids.

        Cheaper than :meth:`unknown_contact_ids`, and blind to a contact created in the last few
        minutes, which search does not show yet.

        :param contact_ids: Intercom contact ids.
        """
        found: set[str] = set()
        for chunk in batches(list(dict.fromkeys(contact_ids)), SEARCH_PAGE):
            query = {"field": "id", "operator": "IN", "value": chunk}
            found.update(contact["id"] for contact in self.search_contacts(query, per_page=SEARCH_PAGE))
        return found

    def unknown_contact_ids(self, contact_ids: Iterable[str]) -> list[str]:
        """
        Return the ids, in input order, that belong to no contact.

        One ``id IN`` search per 50 ids finds the known ones; the few it misses are checked with
        ``GET /contacts/{id}``, since a new contact can take minutes to become searchable.

        :param contact_ids: Intercom contact ids.
        """
        wanted = list(dict.fromkeys(contact_ids))
        found: set[str] = set()
        for chunk in batches(wanted, 50):
            query = {"field": "id", "operator": "IN", "value": chunk}
            found.update(contact["id"] for contact in self.search_contacts(query, per_page=150))
        unknown = []
        for contact_id in wanted:
            if contact_id in found:
                continue
            try:
                # A plain GET: get_contact() follows a merged contact's link; here a 410 counts as unknown.
                self._request("GET", f"/contacts/{path_segment(contact_id, 'contact_id')}")
            except IntercomNotFoundError:
                unknown.append(contact_id)
        return unknown

    def search_contacts(self, query: Mapping[str, Any], per_page: int = 50) -> Iterator[dict[str, Any]]:
        """
        Yield every contact matching a search query, following the cursor page by page.

        The cursor (``pages.next.starting_after``) goes in the request body: Intercom ignores it in
        the query string and would answer page 1 again.

        :param query: an Intercom search query, e.g. ``{"field": "tag_id", "operator": "=", "value": "7"}``.
        :param per_page: contacts per page, 1 to 150.
        """
        validate_int_range(per_page, "per_page", 1, 150)
        if not isinstance(query, Mapping) or not query:
            raise IntercomConfigurationError(f"query={query!r} must be a non-empty Intercom search query")

        def fetch(pagination: dict[str, Any]) -> Any:
            body = {"query": dict(query), "pagination": pagination}
            return self._request("POST", "/contacts/search", json=body)

        fetched = 0
        for page in cursor_pages(fetch, per_page, method="POST", path="/contacts/search"):
            contacts = page.get("data") or []
            fetched += len(contacts)
            pages = page.get("pages") or {}
            self.log.info(
                "Contact search: page %s of %s, %d of %s contacts",
                pages.get("page", "?"),
                pages.get("total_pages", "?"),
                fetched,
                page.get("total_count", "?"),
            )
            yield from contacts

    def count_contacts_with_tag(self, tag_id: str) -> int:
        """
        Return how many contacts carry a tag: one search (``tag_id =``), reading ``total_count``.

        :param tag_id: the tag's Intercom id.
        """
        query = {"field": "tag_id", "operator": "=", "value": validate_id(tag_id, "tag_id")}
        page = self._request("POST", "/contacts/search", json={"query": query, "pagination": {"per_page": 1}})
        return int(page.get("total_count") or 0)

    def list_contact_tags(self, contact_id: str) -> list[dict[str, Any]]:
        """
        Return the tags a contact carries (``GET /contacts/{id}/tags``).

        :param contact_id: the contact's Intercom id.
        """
        return self._request("GET", f"/contacts/{path_segment(contact_id, 'contact_id')}/tags").get(
            "data", []
        )

    def tag_contact(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        """
        Attach a tag to a contact (``POST /contacts/{id}/tags``); tagging twice is harmless.

        :param contact_id: the contact's Intercom id.
        :param tag_id: the tag's Intercom id.
        """
        path_segment(tag_id, "tag_id")  # validates; the id travels in the body here
        return self._request(
            "POST",
            f"/contacts/{path_segment(contact_id, 'contact_id')}/tags",
            json={"id": str(tag_id).strip()},
        )

    def untag_contact(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        """
        Remove a tag from a contact (``DELETE /contacts/{id}/tags/{tag_id}``).

        :param contact_id: the contact's Intercom id.
        :param tag_id: the tag's Intercom id.
        """
        return self._request(
            "DELETE",
            f"/contacts/{path_segment(contact_id, 'contact_id')}/tags/{path_segment(tag_id, 'tag_id')}",
        )
