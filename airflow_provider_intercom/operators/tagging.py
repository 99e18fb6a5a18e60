"""The task's tag: found by name or id, created when allowed, and linked in the Intercom web app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_intercom.exceptions import IntercomNotFoundError, IntercomTagNotFoundError
from airflow_provider_intercom.hooks.intercom import IntercomHook
from airflow_provider_intercom.links.tags import TAG_LINK_XCOM_KEY, IntercomTagLink, tag_contacts_url

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def find_tag(
    hook: IntercomHook,
    log: Any,
    tag_name: Any,
    tag_id: Any,
    *,
    create: bool,
    dry_run: bool,
    needed: bool = True,
) -> dict[str, Any]:
    """
    Find a task's tag, or create it by name when allowed (never in a dry run).

    :param hook: the task's hook.
    :param log: the task's log.
    :param tag_name: the tag's name, or None.
    :param tag_id: the tag's id, or None.
    :param create: whether a missing tag may be created.
    :param dry_run: whether writes are skipped.
    :param needed: whether anything will carry the tag; a tag nothing would carry is not created.
    :return: the tag; its id is None when a dry run would create it, or when it is not needed.
    """
    if tag_id is not None:
        try:
            return hook.find_tag(tag_id)
        except IntercomNotFoundError as error:
            raise IntercomTagNotFoundError(f"No tag has tag_id={tag_id!r}") from error
    tag = hook.find_tag_by_name(tag_name)
    if tag is not None:
        return tag
    if not create:
        raise IntercomTagNotFoundError(f"No tag is named {tag_name!r}; nothing was changed")
    if dry_run:
        log.info("Dry run: the tag %r does not exist and would be created", tag_name)
        return {"type": "tag", "id": None, "name": tag_name}
    if not needed:
        log.info("The tag %r does not exist and nothing resolved to tag: it is not created", tag_name)
        return {"type": "tag", "id": None, "name": tag_name}
    tag = hook.create_or_update_tag(tag_name)
    log.info("Created the tag %r (id %s)", tag["name"], tag["id"])
    return tag


def record_tag_link(hook: IntercomHook, log: Any, context: Context, tag: dict[str, Any]) -> str | None:
    """
    Push the URL of the tag's contacts in the web app to XCom, for the "Intercom tag" link.

    It costs one ``GET /me``. The link is a convenience: when it cannot be built, a warning is
    logged and the task goes on, its outcome and report unchanged.

    :param hook: the task's hook.
    :param log: the task's log.
    :param context: the task's context.
    :param tag: the task's tag; no link when its id is None (a dry run of a missing tag).
    :return: the URL, or None when there is no link.
    """
    if not tag.get("id"):
        return None
    try:
        url = tag_contacts_url(hook.app_url(), str(tag["id"]))
    except Exception as error:  # any failure here must leave the task as it is
        log.warning("No %r link for this task: %s", IntercomTagLink.name, error)
        return None
    context["ti"].xcom_push(key=TAG_LINK_XCOM_KEY, value=url)
    return url


def existing_tag(hook: IntercomHook, tag_name: Any, tag_id: Any) -> dict[str, Any]:
    """
    Look a sync's tag up without creating it; its id is None while it does not exist.

    :param hook: the task's hook.
    :param tag_name: the tag's name, or None.
    :param tag_id: the tag's id, or None.
    """
    if tag_id is not None:
        return hook.find_tag(tag_id)
    name = str(tag_name)
    return hook.find_tag_by_name(name) or {"type": "tag", "id": None, "name": name}
