"""The Intercom hook: its connection, the one request path, and the workspace; endpoints come by resource."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import quote

import requests
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_intercom._connection_form import DEFAULT_API_VERSION, DEFAULT_CONN_ID, DEFAULT_REGION
from airflow_provider_intercom._validation import validate_tag_name
from airflow_provider_intercom.exceptions import IntercomConfigurationError, IntercomInvalidResponseError
from airflow_provider_intercom.hooks import form
from airflow_provider_intercom.hooks.endpoints.companies import CompanyEndpoints
from airflow_provider_intercom.hooks.endpoints.contacts import ContactEndpoints
from airflow_provider_intercom.hooks.endpoints.conversations import ConversationEndpoints
from airflow_provider_intercom.hooks.endpoints.tags import TagEndpoints
from airflow_provider_intercom.hooks.pacing import RateLimitPacer
from airflow_provider_intercom.hooks.settings import (
    REGION_APP_URLS,
    REGION_BASE_URLS,
    SUPPORTED_API_VERSIONS,
    IntercomSettings,
    base_url_for,
    connection_extra,
    validate_api_version,
    validate_region,
    version_at_least,
)
from airflow_provider_intercom.hooks.transport import TRANSIENT_ERRORS, RetryPolicy, new_session, send_once

# GET /me for the app id (connect, read): the link and lineage wait no longer than this, and never retry.
APP_ID_TIMEOUT = (3.05, 5.0)

# Importable from here as before the hook's helpers moved to their own modules.
__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_REGION",
    "REGION_APP_URLS",
    "REGION_BASE_URLS",
    "SUPPORTED_API_VERSIONS",
    "TRANSIENT_ERRORS",
    "IntercomHook",
    "IntercomSettings",
    "tag_summary",
    "validate_api_version",
    "validate_region",
    "validate_tag_name",
    "version_at_least",
]


def tag_summary(tag: Mapping[str, Any]) -> dict[str, Any]:
    """
    Keep only the tag fields a report needs: ``{"type", "id", "name"}``.

    :param tag: a tag object as Intercom returns it.
    """
    return {"type": "tag", "id": tag.get("id"), "name": tag.get("name")}


class IntercomHook(TagEndpoints, ContactEndpoints, CompanyEndpoints, ConversationEndpoints, BaseHook):
    """
    Talk to Intercom's REST API for one Airflow connection.

    The connection's password is the access token. Its extras choose the ``region`` (us, eu or au,
    which picks the base URL) and the ``api_version`` (sent as ``Intercom-Version`` on every
    request). A connection ``host`` such as ``http://127.0.0.1:8111`` overrides the region's URL,
    which is how the bundled sandbox or a proxy is used. Arguments given here override the
    connection.

    Every endpoint method goes through one request path, which sets timeouts, paces calls from
    the ``X-RateLimit-*`` headers, retries what is worth retrying (429 after the window resets;
    408 and 5xx, dropped connections and timeouts, and a 200 whose body is not JSON, with
    exponential backoff and jitter) and turns every other error into an
    :class:`~airflow_provider_intercom.exceptions.IntercomAPIError`. Writes are safe to retry:
    tagging, untagging and creating a tag by name are idempotent at Intercom. The endpoint methods
    come, one group per resource, from :mod:`airflow_provider_intercom.hooks.endpoints`.

    :param intercom_conn_id: the Airflow connection to use.
    :param region: us, eu or au; overrides the connection's ``region`` extra.
    :param api_version: e.g. ``"2.11"``; overrides the connection's ``api_version`` extra.
    :param timeout: seconds to wait for a connection and for an answer, as one number or a
        ``(connect, read)`` pair.
    :param max_retries: retries after the first attempt, for transient failures only.
    :param backoff_base: seconds of the first backoff; it doubles each retry, with full jitter.
    :param backoff_max: the longest backoff between two retries, in seconds.
    :param max_rate_limit_wait: the longest wait for a rate-limit window to reset, in seconds.
    """

    conn_name_attr = "intercom_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "intercom"
    hook_name = "Intercom"

    # Airflow 3 builds the connection form from the provider info's conn-fields and
    # ui-field-behaviour and does not call these two; Airflow 2.11's UI reads only these.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the connection form's extra fields (region, api_version) for Airflow 2.11's UI."""
        return form.connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return which standard fields the connection form hides, relabels and fills with hints."""
        return form.ui_field_behaviour()

    def __init__(
        self,
        intercom_conn_id: str = default_conn_name,
        region: str | None = None,
        api_version: str | None = None,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_rate_limit_wait: float = 30.0,
    ) -> None:
        super().__init__()
        self.intercom_conn_id = intercom_conn_id
        self.region = region
        self.api_version = api_version
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_rate_limit_wait = max_rate_limit_wait
        self.pacer = RateLimitPacer(max_wait=max_rate_limit_wait)
        self._app_id: str | None = None

    # -- connection -------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> IntercomSettings:
        """Resolve token, region, base URL and API version, once; raise before any request if invalid."""
        conn = self.get_connection(self.intercom_conn_id)
        token = (conn.password or "").strip()
        if not token:
            raise IntercomConfigurationError(
                f"Connection {self.intercom_conn_id!r} has no access token: put it in the password field"
            )
        mask_secret(token)
        # Arguments win over the connection's extras, which win over the form's defaults.
        extras, extra = conn.extra_dejson, f"connection {self.intercom_conn_id!r} extra"
        region = validate_region(
            self.region or connection_extra(extras, "region") or DEFAULT_REGION,
            source="region" if self.region else f"{extra} 'region'",
        )
        api_version = validate_api_version(
            self.api_version or connection_extra(extras, "api_version") or DEFAULT_API_VERSION,
            source="api_version" if self.api_version else f"{extra} 'api_version'",
        )
        base_url = base_url_for(conn.host, conn.port, region)
        app_id = connection_extra(extras, "app_id")
        return IntercomSettings(
            base_url=base_url,
            region=region,
            api_version=api_version,
            token=token,
            app_id=str(app_id).strip() if app_id else None,
        )

    def get_conn(self) -> requests.Session:
        """Return the hook's pooled, keep-alive ``requests.Session``, with Intercom's headers set."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        return new_session(self.settings)

    def require_version(self, minimum: tuple[int, int], feature: str) -> None:
        """
        Refuse, before any request, a connection whose API version predates a feature.

        :param minimum: ``(major, minor)``, e.g. ``(2, 10)``.
        :param feature: what needs it, quoted in the error.
        """
        version = self.settings.api_version
        if not version_at_least(version, minimum):
            raise IntercomConfigurationError(
                f"{feature} needs Intercom API {minimum[0]}.{minimum[1]} or later; "
                f"this connection uses api_version={version!r}"
            )

    # -- the one request path ----------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        empty_ok: bool = False,
        max_retries: int | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        """
        Send one API call with pacing and retries, and return its decoded JSON (None for no body).

        :param method: HTTP method.
        :param path: path below the base URL, starting with ``/``, ids already quoted.
        :param json: request body.
        :param params: query-string parameters.
        :param empty_ok: the endpoint answers success with no body (``DELETE /tags/{id}``). Elsewhere
            an empty 200 means the answer was lost, so it is retried like any unreadable answer.
        :param max_retries: overrides the hook's retries for this call.
        :param timeout: overrides the hook's timeout for this call.
        """
        session, url = self._session, f"{self.settings.base_url}{path}"
        # Built per call: the retry settings are plain attributes a caller may change.
        retries = self.max_retries if max_retries is None else max_retries
        policy = RetryPolicy(retries, self.backoff_base, self.backoff_max, self.max_rate_limit_wait)
        return policy.retrying(self.log)(
            send_once,
            session,
            self.pacer,
            url,
            method,
            path,
            json=json,
            params=params,
            timeout=self.timeout if timeout is None else timeout,
            empty_ok=empty_ok,
        )

    # -- workspace --------------------------------------------------------------------------------

    def get_me(self) -> dict[str, Any]:
        """Return the admin the token belongs to, with its workspace (``GET /me``)."""
        return self._request("GET", "/me")

    def app_id(self) -> str:
        """
        Return the workspace's app id (``app.id_code``): the ``app_id`` extra, else one ``GET /me``.

        The answer is kept, so the link and the lineage of a task cost one call at most. That call
        waits :data:`APP_ID_TIMEOUT` and is not retried: a task never lingers on what only decorates it.

        :raises IntercomInvalidResponseError: when ``GET /me`` names no app id.
        """
        if self.settings.app_id:
            return self.settings.app_id
        if self._app_id is None:
            # Only the link and lineage need it, after the work is done: a short wait, no retries.
            me = self._request("GET", "/me", max_retries=0, timeout=APP_ID_TIMEOUT)
            app_id = (me.get("app") or {}).get("id_code")
            if not isinstance(app_id, str) or not app_id.strip():
                raise IntercomInvalidResponseError(
                    200, None, f"no app.id_code in the answer ({app_id!r})", method="GET", path="/me"
                )
            self._app_id = app_id.strip()
        return self._app_id

    def known_app_id(self) -> str | None:
        """Return the workspace's app id when it is known without a request (the extra, an earlier answer)."""
        return self.settings.app_id or self._app_id

    def app_url(self) -> str:
        """
        Return the workspace's home in the Intercom web app, e.g. ``https://app.eu.intercom.com/a/apps/x1y2``.

        The host follows the region (a connection ``host`` overrides only the API's URL); the app
        id is :meth:`app_id`.
        """
        return f"{REGION_APP_URLS[self.settings.region]}/a/apps/{quote(self.app_id(), safe='')}"

    def test_connection(self) -> tuple[bool, str]:
        """Check the token with one cheap read (``GET /me``); never raises."""
        try:
            me = self.get_me()
        except Exception as error:
            return False, str(error)
        settings = self.settings
        app = me.get("app") or {}
        workspace = app.get("name") or app.get("id_code") or "?"
        admin = me.get("email") or me.get("name") or me.get("id")
        return True, (
            f"Connected to Intercom workspace {workspace!r} as {admin} "
            f"({settings.base_url}, API {settings.api_version})"
        )
