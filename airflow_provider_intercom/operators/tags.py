"""
Operators for Intercom tags: list, create and delete them; and, re-exported here, every tagging operator.

The tagging operators live by what they tag (:mod:`.contacts`, :mod:`.companies`,
:mod:`.conversations`, :mod:`.sync`); importing them from this module keeps working. Every bulk
operator returns the same report to XCom, as plain JSON::

    {"tag": {"type", "id", "name"}, "requested": n, "succeeded": [...], "not_found": [...],
     "failed": [{"id", "error": {"status", "code", "message", "request_id"}}], "dry_run": bool}

Each requested item (after dedupe) lands in exactly one of ``succeeded``, ``not_found`` and
``failed``. In a dry run nothing is written and ``succeeded`` lists what would be written.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_intercom._validation import require_one_tag
from airflow_provider_intercom.exceptions import (
    IntercomBadRequestError,
    IntercomConfigurationError,
    IntercomNotFoundError,
    IntercomTagInUseError,
    IntercomTagNotFoundError,
)
from airflow_provider_intercom.hooks.intercom import tag_summary
from airflow_provider_intercom.links.tags import IntercomTagLink
from airflow_provider_intercom.operators.base import (
    CONNECTION_FIELDS,
    _IntercomOperator,
    documents_shared_parameters,
)
from airflow_provider_intercom.operators.companies import TagCompaniesOperator, UntagCompaniesOperator
from airflow_provider_intercom.operators.contacts import TagContactsOperator, UntagContactsOperator
from airflow_provider_intercom.operators.conversations import TagConversationsOperator, TagTicketsOperator
from airflow_provider_intercom.operators.inputs import chunk_ids
from airflow_provider_intercom.operators.lineage import tag_lineage
from airflow_provider_intercom.operators.tagging import find_tag, record_tag_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = [
    "CreateTagOperator",
    "DeleteTagOperator",
    "ListTagsOperator",
    "TagCompaniesOperator",
    "TagContactsOperator",
    "TagConversationsOperator",
    "TagTicketsOperator",
    "UntagCompaniesOperator",
    "UntagContactsOperator",
    "chunk_ids",
]


@documents_shared_parameters
class ListTagsOperator(_IntercomOperator):
    """
    Return the workspace's tags, or one contact's, as a list of tag dicts.

    :param name_pattern: keep only tags whose name matches this case-insensitive glob, e.g. ``"churn*"``.
    :param contact_id: list this contact's tags instead of the workspace's.
    """

    template_fields: Sequence[str] = ("name_pattern", "contact_id", *CONNECTION_FIELDS)

    def __init__(
        self, *, name_pattern: str | None = None, contact_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.name_pattern = name_pattern
        self.contact_id = contact_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """
        Return the workspace's (or the contact's) tags, filtered by ``name_pattern`` (XCom).

        :param context: The task context.
        """
        if self.name_pattern is not None and not isinstance(self.name_pattern, str):
            raise IntercomConfigurationError(f"name_pattern={self.name_pattern!r} must be a glob string")
        _ = self.hook.settings
        tags = self.hook.list_contact_tags(self.contact_id) if self.contact_id else self.hook.list_tags()
        if self.name_pattern:
            pattern = self.name_pattern.casefold()
            tags = [tag for tag in tags if fnmatch.fnmatchcase(str(tag.get("name", "")).casefold(), pattern)]
        self.log.info("%d tags: %s", len(tags), ", ".join(str(tag.get("name")) for tag in tags))
        return tags


@documents_shared_parameters
class CreateTagOperator(_IntercomOperator):
    """
    Create a tag by name, or return the existing one (names are case-insensitive at Intercom).

    :param tag_name: the tag's name (templated).
    """

    template_fields: Sequence[str] = ("tag_name", *CONNECTION_FIELDS)
    operator_extra_links = (IntercomTagLink(),)

    def __init__(self, *, tag_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag_name = tag_name

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Create the tag (or find it by name) and return it (XCom).

        :param context: The task context.
        """
        require_one_tag(self.tag_name, None)
        _ = self.hook.settings  # a bad connection fails before any request
        tag = self.hook.create_or_update_tag(self.tag_name)
        self.log.info("Tag %r has id %s", tag.get("name"), tag.get("id"))
        record_tag_link(self.hook, self.log, context, tag)
        self.lineage_record = tag_lineage(self.hook, {"tag": tag}, "contacts", lifecycle="CREATE")
        return tag_summary(tag)


@documents_shared_parameters
class DeleteTagOperator(_IntercomOperator):
    """
    Delete a tag, by name or id; a tag that is already gone is reported, not an error.

    A tag used by segments cannot be deleted: the task then fails with a message naming them.

    :param tag_name: the tag's name (exactly one of ``tag_name`` and ``tag_id``).
    :param tag_id: the tag's Intercom id.
    """

    template_fields: Sequence[str] = ("tag_name", "tag_id", *CONNECTION_FIELDS)

    def __init__(self, *, tag_name: str | None = None, tag_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag_name = tag_name
        self.tag_id = tag_id

    def execute(self, context: Context) -> dict[str, Any]:
        """
        Delete the tag; return ``{tag, deleted}`` (XCom), ``deleted`` False when it was already gone.

        :param context: The task context.
        """
        require_one_tag(self.tag_name, self.tag_id)
        _ = self.hook.settings
        try:
            tag = find_tag(self.hook, self.log, self.tag_name, self.tag_id, create=False, dry_run=False)
        except IntercomTagNotFoundError:
            self.log.info(
                "No such tag (tag_name=%r, tag_id=%r): nothing to delete", self.tag_name, self.tag_id
            )
            return {"tag": {"type": "tag", "id": self.tag_id, "name": self.tag_name}, "deleted": False}
        try:
            self.hook.delete_tag(tag["id"])
        except IntercomNotFoundError:
            # The tag existed a moment ago: a retry after a lost answer, or someone else, deleted it.
            self.log.info("The tag %r (id %s) was already deleted", tag["name"], tag["id"])
        except IntercomBadRequestError as error:
            if error.code != "tag_has_dependent_objects":
                raise
            raise IntercomTagInUseError(
                f"Tag {tag['name']!r} (id {tag['id']}) cannot be deleted while segments use it. "
                f"Intercom says: {error.message}"
            ) from error
        self.log.info("Deleted the tag %r (id %s)", tag["name"], tag["id"])
        # Its app id only if known without a request (the app_id extra): no call is made for lineage.
        self.lineage_record = tag_lineage(self.hook, {"tag": tag}, "contacts", lifecycle="DROP")
        return {"tag": tag_summary(tag), "deleted": True}
