"""
The "Intercom tag" extra link: the contacts that carry a task's tag, in the Intercom web app.

The task builds the URL while it runs (it knows the tag, and the hook knows the workspace and its
region) and pushes it to XCom under :data:`TAG_LINK_XCOM_KEY`; the link only reads it back. That
works on both Airflow lines: Airflow 3 calls ``get_link`` on the worker when the task ends and
stores the result, Airflow 2.11 calls it in the webserver, which reads XCom from the metadata DB.
This module imports no HTTP client, so the webserver loads it cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

TAG_LINK_XCOM_KEY = "intercom_tag_link"


def tag_contacts_url(app_url: str, tag_id: str) -> str:
    """
    Return the web app's page of the contacts that carry a tag.

    Intercom documents no URL of its web app: its developer docs only link to pages under the
    workspace prefix ``/a/apps/{app_id}/``. The rest, the "All users" list with a ``tag_id``
    parameter, is an undocumented guess kept as simple as possible.

    :param app_url: the workspace's home in the web app, from
        :meth:`~airflow_provider_intercom.hooks.intercom.IntercomHook.app_url`.
    :param tag_id: the tag's Intercom id.
    """
    return f"{app_url}/users/segments/all-users?{urlencode({'tag_id': str(tag_id)}, quote_via=quote)}"


class IntercomTagLink(BaseOperatorLink):
    """Opens the contacts that carry the task's tag in the Intercom web app, when the task recorded it."""

    name = "Intercom tag"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """
        Return the URL the task pushed to XCom, or an empty string (no link) when it pushed none.

        :param operator: the task's operator (unused: the URL depends on the run, not the task).
        :param ti_key: the task instance whose XCom holds the URL.
        """
        url = XCom.get_value(ti_key=ti_key, key=TAG_LINK_XCOM_KEY)
        return url if isinstance(url, str) else ""
