"""
The sandbox backend, after moto's ``SQSBackend``: every change a request makes, and the lookups it needs.

Routes parse and render; the methods here find objects (raising the named errors of
:mod:`~airflow_provider_intercom.sandbox.errors`) and apply Intercom's rules to the state. They take
already validated values, and they run with the state lock held by the router.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from airflow_provider_intercom.sandbox.errors import (
    ApiError,
    CompanyNotFound,
    ContactConflict,
    ContactMerged,
    TagHasDependentObjects,
    TagNotFound,
    UserNotFound,
)
from airflow_provider_intercom.sandbox.models import (
    Admin,
    Company,
    Contact,
    Tag,
    Taggable,
    now_unix,
)
from airflow_provider_intercom.sandbox.state import SandboxState

T = TypeVar("T")
# A bulk-tagging item once looked up: the contact or company (None when unknown), and whether to untag.
Found = tuple[Contact | Company | None, bool]
# Contact fields an update sets as given; owner_id, unsubscribed_from_emails and custom_attributes differ.
_CONTACT_UPDATE_FIELDS = (
    "role",
    "email",
    "external_id",
    "phone",
    "name",
    "avatar",
    "signed_up_at",
    "last_seen_at",
)
_COMPANY_UPDATE_FIELDS = ("name", "plan", "size", "website", "industry", "remote_created_at")


class IntercomBackend:
    """
    Intercom's behaviour over one :class:`SandboxState`.

    :param state: The state it reads and changes.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # -- lookups ---------------------------------------------------------------------------------------

    def tag(self, tag_id: str, missing: type[ApiError] = TagNotFound) -> Tag:
        """
        Find a tag by id.

        :param tag_id: The tag id.
        :param missing: The error of an unknown id: conversations and tickets raise ``ObjectTagNotFound``.
        :return: The tag.
        :raises ApiError: ``missing``, if there is none.
        """
        return find(self.state.tags, tag_id, missing)

    def live_contact(self, contact_id: str) -> Contact | None:
        """
        Find a contact that was not merged away: every operation on a merged contact's id finds nothing.

        :param contact_id: The contact id.
        :return: The contact, or None.
        """
        contact = self.state.contacts.get(contact_id)
        return None if contact is None or contact.merged_into is not None else contact

    def contact(self, contact_id: str, report_merge: bool = False) -> Contact:
        """
        Find a live contact by id.

        :param contact_id: The contact id.
        :param report_merge: Answer a merged contact with 410 ``contact_merged`` (2.16 on) instead of 404.
        :return: The contact.
        :raises UserNotFound: If there is none (or it was merged, without ``report_merge``).
        :raises ContactMerged: If it was merged, with ``report_merge``.
        """
        existing = self.state.contacts.get(contact_id)
        if report_merge and existing is not None and existing.merged_into is not None:
            raise ContactMerged(self.state.canonical_contact_id(contact_id))
        contact = self.live_contact(contact_id)
        if contact is None:
            raise UserNotFound()
        return contact

    def find_company(self, *, intercom_id: str | None, company_id: str | None) -> Company | None:
        """
        Find a company by Intercom id, else by the customer's ``company_id``.

        :param intercom_id: Intercom's id, or None.
        :param company_id: The customer's id, or None.
        :return: The company, or None.
        """
        if intercom_id is not None and intercom_id in self.state.companies:
            return self.state.companies[intercom_id]
        if company_id is not None:
            return next((c for c in self.state.companies.values() if c.company_id == company_id), None)
        return None

    # -- tags ------------------------------------------------------------------------------------------

    def create_tag(self, name: str) -> Tag:
        """
        Return the tag with this name (any case), creating it when absent.

        :param name: The tag name.
        :return: The tag.
        """
        return self.state.find_tag_by_name(name) or self.state.add_tag(name)

    def rename_tag(self, tag_id: str, name: str) -> Tag:
        """
        Rename a tag.

        :param tag_id: The tag id.
        :param name: The new name.
        :return: The tag.
        :raises TagNotFound: If there is none.
        """
        tag = self.tag(tag_id)
        tag.name = name
        return tag

    def tag_in_bulk(
        self, name: str, found: list[Found], skip_unknown: bool, not_found: type[ApiError]
    ) -> tuple[Tag, list[tuple[Contact | Company, bool]]]:
        """
        Tag or untag users or companies with the tag of this name (``POST /tags`` with users or companies).

        :param name: The tag name; the tag is created when absent.
        :param found: Each item looked up, with whether to untag it.
        :param skip_unknown: Skip unknown items (2.16 on); otherwise one fails the whole batch.
        :param not_found: The error of an unknown item when not skipping.
        :return: The tag, and each entity done with True when tagged, False when untagged.
        :raises ApiError: ``not_found``, before anything changes, not even the tag's creation.
        """
        if not skip_unknown and any(entity is None for entity, _ in found):
            raise not_found()
        tag = self.create_tag(name)
        applied_at = now_unix()
        results: list[tuple[Contact | Company, bool]] = []
        for entity, untag in found:
            if entity is None:
                continue
            if untag:
                entity.tags.pop(tag.id, None)
            else:
                entity.tags.setdefault(tag.id, applied_at)
            results.append((entity, not untag))
        return tag, results

    def delete_tag(self, tag_id: str) -> None:
        """
        Delete a tag and remove it from everything it was applied to.

        :param tag_id: The tag id.
        :raises TagNotFound: If there is none.
        :raises TagHasDependentObjects: While a segment uses the tag.
        """
        tag = self.tag(tag_id)
        segments = [segment for segment in self.state.segments.values() if tag.id in segment.tag_ids]
        if segments:
            raise TagHasDependentObjects([segment.name for segment in segments])
        del self.state.tags[tag.id]
        for tagged in self._tagged_objects():
            tagged.tags.pop(tag.id, None)
            if isinstance(tagged, Taggable):
                tagged.applied_by.pop(tag.id, None)

    def _tagged_objects(self) -> Iterator[Contact | Company | Taggable]:
        yield from self.state.contacts.values()
        yield from self.state.companies.values()
        yield from self.state.conversations.values()
        yield from self.state.tickets.values()

    def contact_tags(self, contact: Contact) -> list[Tag]:
        """
        Return the tags a contact carries.

        :param contact: The contact.
        :return: Its tags, in the order they were applied.
        """
        return [self.state.tags[tag_id] for tag_id in contact.tags if tag_id in self.state.tags]

    def attach_contact_tag(self, contact: Contact, tag: Tag) -> int:
        """
        Tag a contact; tagging twice is harmless and keeps the first application.

        :param contact: The contact.
        :param tag: The tag.
        :return: When the tag was applied, Unix seconds.
        """
        return contact.tags.setdefault(tag.id, now_unix())

    def detach_contact_tag(self, contact: Contact, tag: Tag) -> int | None:
        """
        Remove a tag from a contact; removing an absent tag is harmless.

        :param contact: The contact.
        :param tag: The tag.
        :return: When the tag had been applied, or None when the contact did not carry it.
        """
        return contact.tags.pop(tag.id, None)

    def attach_object_tag(self, item: Taggable, tag: Tag, admin: Admin) -> tuple[int, Admin]:
        """
        Tag a conversation or ticket; tagging twice (by anyone) keeps the first application.

        :param item: The conversation or ticket.
        :param tag: The tag.
        :param admin: The admin tagging it.
        :return: When and by whom the tag was applied.
        """
        applied_at = item.tags.setdefault(tag.id, now_unix())
        applied_by = self.state.admins.get(item.applied_by.setdefault(tag.id, admin.id), admin)
        return applied_at, applied_by

    def detach_object_tag(self, item: Taggable, tag: Tag, admin: Admin) -> tuple[int | None, Admin]:
        """
        Remove a tag from a conversation or ticket; removing a tag it does not carry is harmless.

        :param item: The conversation or ticket.
        :param tag: The tag.
        :param admin: The admin untagging it, reported as the one who applied it when none was recorded.
        :return: When and by whom the tag had been applied (None: it was not applied).
        """
        applied_at = item.tags.pop(tag.id, None)
        applied_by = self.state.admins.get(item.applied_by.pop(tag.id, admin.id), admin)
        return applied_at, applied_by

    # -- contacts --------------------------------------------------------------------------------------

    def create_contact(self, record: Mapping[str, Any]) -> Contact:
        """
        Create a contact from a validated ``create_contact_request``.

        :param record: The contact's fields, ``role`` given.
        :return: The new contact.
        :raises ContactConflict: When a user already has that email or external_id.
        """
        self._refuse_duplicate(record["role"], record.get("email"), record.get("external_id"))
        return self.state.add_contact({**record, "tags": []})

    def update_contact(self, contact: Contact, changes: Mapping[str, Any]) -> Contact:
        """
        Apply a validated ``update_contact_request``; ``custom_attributes`` are merged into the existing ones.

        :param contact: The contact.
        :param changes: The fields to change; ``owner_id`` already an id string or None.
        :return: The contact.
        :raises ContactConflict: When another user already has the new email or external_id.
        """
        role = changes.get("role") or contact.role
        self._refuse_duplicate(role, changes.get("email"), changes.get("external_id"), exclude=contact)
        for name in _CONTACT_UPDATE_FIELDS:
            if name in changes:
                setattr(contact, name, changes[name])
        if "owner_id" in changes:
            contact.owner_id = changes["owner_id"]
        if "unsubscribed_from_emails" in changes:
            contact.unsubscribed_from_emails = bool(changes["unsubscribed_from_emails"])
        contact.custom_attributes.update(changes.get("custom_attributes") or {})
        contact.updated_at = now_unix()
        return contact

    def _refuse_duplicate(
        self, role: str, email: Any, external_id: Any, exclude: Contact | None = None
    ) -> None:
        for contact in self.state.live_contacts():
            if contact is exclude:
                continue
            if external_id is not None and contact.external_id == external_id:
                raise ContactConflict(contact.id)
            # Leads may share an email; users may not.
            same_email = email is not None and (contact.email or "").casefold() == email.casefold()
            if same_email and role == "user" and contact.role == "user":
                raise ContactConflict(contact.id)

    # -- companies -------------------------------------------------------------------------------------

    def create_or_update_company(self, fields: Mapping[str, Any]) -> Company:
        """
        Create a company, or update the one with the same ``company_id``, which never changes.

        :param fields: A validated ``create_or_update_company_request``; ``custom_attributes`` are merged.
        :return: The company.
        """
        company_id = str(fields["company_id"])
        company = self.find_company(intercom_id=None, company_id=company_id) or self.state.add_company(
            company_id=company_id
        )
        for name in _COMPANY_UPDATE_FIELDS:
            if name in fields:
                setattr(company, name, fields[name])
        if "monthly_spend" in fields:
            # "this will truncate floats"
            company.monthly_spend = int(fields["monthly_spend"])
        company.custom_attributes.update(fields.get("custom_attributes") or {})
        company.updated_at = now_unix()
        if fields.get("update_last_request_at"):
            company.last_request_at = company.updated_at
        return company

    def companies_matching(
        self, company_id: str | None, name: str | None, tag_id: str | None, segment_id: str | None
    ) -> list[Company]:
        """
        Find companies as ``GET /companies`` filters them; no filter gives every company.

        :param company_id: The customer's id: one company (it wins over ``name``).
        :param name: A company name: one company.
        :param tag_id: The companies carrying this tag.
        :param segment_id: None match: segment membership is not modelled.
        :return: The companies, in creation order.
        :raises CompanyNotFound: When ``company_id`` or ``name`` matches none.
        """
        companies = list(self.state.companies.values())
        if company_id is not None or name is not None:
            matches = [
                company
                for company in companies
                if (company.company_id == company_id if company_id is not None else company.name == name)
            ]
            if not matches:
                raise CompanyNotFound()
            return matches[:1]
        if tag_id is not None:
            return [company for company in companies if tag_id in company.tags]
        if segment_id is not None:
            return []
        return companies


def find(objects: Mapping[str, T], object_id: str, missing: type[ApiError]) -> T:
    """
    Find an object by id, or refuse the request with the error Intercom gives for that kind of object.

    :param objects: The objects by id, e.g. ``state.tickets``.
    :param object_id: The id asked for.
    :param missing: The error of an unknown id, e.g. ``TicketNotFound``.
    :return: The object.
    :raises ApiError: ``missing``, if there is none.
    """
    found = objects.get(object_id)
    if found is None:
        raise missing()
    return found
