"""The Intercom hook: connection, region, API version, and the one HTTP path every call goes through."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote

import requests
import tenacity
from airflow.providers.common.compat.sdk import BaseHook, mask_secret
from requests.adapters import HTTPAdapter

from airflow_provider_intercom import __version__
from airflow_provider_intercom.exceptions import (
    IntercomAPIError,
    IntercomConfigurationError,
    IntercomInvalidResponseError,
    IntercomRateLimitError,
    IntercomServerError,
    IntercomTransportError,
    error_class_for,
)
from airflow_provider_intercom.hooks.pacing import RateLimitPacer

REGION_BASE_URLS: dict[str, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
DEFAULT_REGION = "us"
DEFAULT_API_VERSION = "2.11"
# Every 2.x version Intercom has published, and Preview (called Unstable until April 2026).
SUPPORTED_API_VERSIONS: tuple[str, ...] = (*(f"2.{minor}" for minor in range(17)), "Preview")

_TRANSIENT_ERRORS = (
    IntercomServerError,
    IntercomRateLimitError,
    IntercomInvalidResponseError,
    IntercomTransportError,
)


@dataclass(frozen=True)
class IntercomSettings:
    """
    What a hook talks to, resolved from its connection and arguments.

    :param base_url: scheme and host (and port), no trailing slash.
    :param region: us, eu or au.
    :param api_version: the ``Intercom-Version`` header value.
    :param token: the access token; kept out of ``repr``.
    """

    base_url: str
    region: str
    api_version: str
    token: str = field(repr=False)


def validate_region(region: Any, *, source: str = "region") -> str:
    """
    Return the region in lower case, or raise naming the field and the allowed values.

    :param region: the value to check.
    :param source: the field name to quote in the error.
    """
    if isinstance(region, str) and region.strip().lower() in REGION_BASE_URLS:
        return region.strip().lower()
    allowed = ", ".join(REGION_BASE_URLS)
    raise IntercomConfigurationError(f"{source}={region!r} is not an Intercom region; use one of: {allowed}")


def validate_api_version(version: Any, *, source: str = "api_version") -> str:
    """
    Return the canonical spelling of an Intercom API version, or raise naming the field.

    :param version: the value to check, e.g. ``"2.11"`` or ``"preview"``.
    :param source: the field name to quote in the error.
    """
    if not isinstance(version, str):
        # A JSON number would turn "2.10" into 2.1, a different version.
        raise IntercomConfigurationError(
            f'{source}={version!r} must be a string such as "2.11" (quote it in the connection extra)'
        )
    text = version.strip()
    if text.lower() in ("preview", "unstable"):
        return "Preview"
    if text in SUPPORTED_API_VERSIONS:
        return text
    if text.startswith("1."):
        raise IntercomConfigurationError(
            f"{source}={version!r}: 1.x is Intercom's legacy users API, which this provider does not speak; "
            f"use a 2.x version such as {DEFAULT_API_VERSION}"
        )
    allowed = ", ".join(SUPPORTED_API_VERSIONS)
    raise IntercomConfigurationError(
        f"{source}={version!r} is not a known Intercom API version; use one of: {allowed}"
    )


def _path_segment(value: Any, name: str) -> str:
    """Quote an id for use in a URL path, refusing empty values with the argument's name."""
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise IntercomConfigurationError(f"{name}={value!r} must be a non-empty Intercom id (a string)")
    return quote(str(value).strip(), safe="")


class IntercomHook(BaseHook):
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
    tagging, untagging and creating a tag by name are idempotent at Intercom.

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
    default_conn_name = "intercom_default"
    conn_type = "intercom"
    hook_name = "Intercom"

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
        extras = conn.extra_dejson
        region = validate_region(
            self.region or extras.get("region") or extras.get("extra__intercom__region") or DEFAULT_REGION,
            source="region" if self.region else f"connection {self.intercom_conn_id!r} extra 'region'",
        )
        api_version = validate_api_version(
            self.api_version
            or extras.get("api_version")
            or extras.get("extra__intercom__api_version")
            or DEFAULT_API_VERSION,
            source="api_version"
            if self.api_version
            else f"connection {self.intercom_conn_id!r} extra 'api_version'",
        )
        return IntercomSettings(
            base_url=self._base_url(conn.host, conn.port, region),
            region=region,
            api_version=api_version,
            token=token,
        )

    @staticmethod
    def _base_url(host: str | None, port: int | None, region: str) -> str:
        if not host or not host.strip():
            return REGION_BASE_URLS[region]
        url = host.strip().rstrip("/")
        if "://" not in url:
            url = f"https://{url}"
        if port and url.count(":") == 1:
            url = f"{url}:{port}"
        return url

    def get_conn(self) -> requests.Session:
        """Return the hook's pooled, keep-alive ``requests.Session``, with Intercom's headers set."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        settings = self.settings
        session = requests.Session()
        # Retries are ours (they know Intercom's rate-limit headers); urllib3 must not add its own.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update(
            {
                "Authorization": f"Bearer {settings.token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Intercom-Version": settings.api_version,
                "User-Agent": f"airflow-provider-intercom/{__version__}",
            }
        )
        return session

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

    # -- the one request path ----------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """
        Send one API call with pacing and retries, and return its decoded JSON (None for no body).

        :param method: HTTP method.
        :param path: path below the base URL, starting with ``/``, ids already quoted.
        :param json: request body.
        :param params: query-string parameters.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._retry_wait,
            retry=tenacity.retry_if_exception_type(_TRANSIENT_ERRORS),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._send_once, method, path, json, params)

    def _send_once(
        self, method: str, path: str, json: Mapping[str, Any] | None, params: Mapping[str, Any] | None
    ) -> Any:
        session = self._session
        url = f"{self.settings.base_url}{path}"
        self.pacer.acquire()
        try:
            response = session.request(method, url, json=json, params=params, timeout=self.timeout)
        except requests.Timeout as error:
            raise IntercomTransportError(method, path, f"timed out ({type(error).__name__})") from error
        except requests.ConnectionError as error:
            raise IntercomTransportError(
                method, path, f"connection failed ({type(error).__name__})"
            ) from error
        self.pacer.update(response.headers)
        if response.status_code >= 400:
            raise self._error_from(response, method, path)
        if not response.content:
            if method == "DELETE" or response.status_code == 204:
                return None
            raise IntercomInvalidResponseError(
                response.status_code, None, "empty body where JSON was expected", method=method, path=path
            )
        try:
            return response.json()
        except ValueError as error:
            content_type = response.headers.get("Content-Type", "no content type")
            raise IntercomInvalidResponseError(
                response.status_code, None, f"body is not JSON ({content_type})", method=method, path=path
            ) from error

    def _error_from(self, response: requests.Response, method: str, path: str) -> IntercomAPIError:
        try:
            body = response.json()
        except ValueError:
            body = None
        errors: list[dict[str, Any]] = []
        request_id = None
        if isinstance(body, dict):
            errors = [item for item in body.get("errors") or [] if isinstance(item, dict)]
            request_id = body.get("request_id")
        first = errors[0] if errors else {}
        error_class = error_class_for(response.status_code)
        kwargs: dict[str, Any] = {}
        if error_class is IntercomRateLimitError:
            kwargs["reset_at"] = _float_header(response.headers, "X-RateLimit-Reset")
            if kwargs["reset_at"] is not None:
                self.pacer.exhaust_until(kwargs["reset_at"])
        return error_class(
            response.status_code,
            first.get("code"),
            first.get("message") or response.reason,
            request_id=request_id,
            method=method,
            path=path,
            errors=errors,
            **kwargs,
        )

    def _retry_wait(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, IntercomRateLimitError) and error.reset_at is not None:
            # Wait for the window to reset; the jitter keeps workers that were refused together
            # from all retrying in the same instant (Intercom asked peers not to stampede).
            until_reset = max(error.reset_at - time.time(), 0.0)
            return min(until_reset + random.uniform(0.05, 0.5), self.max_rate_limit_wait)
        return tenacity.wait_random_exponential(multiplier=self.backoff_base, max=self.backoff_max)(
            retry_state
        )

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        self.log.warning(
            "Intercom call failed (%s); retry %d of %d in %.1f s",
            error,
            retry_state.attempt_number,
            self.max_retries,
            delay,
        )

    # -- tags ---------------------------------------------------------------------------------------

    def list_tags(self) -> list[dict[str, Any]]:
        """Return every tag of the workspace (``GET /tags``; Intercom does not paginate it)."""
        return self._request("GET", "/tags").get("data", [])

    def find_tag(self, tag_id: str) -> dict[str, Any]:
        """
        Return one tag by id (``GET /tags/{id}``).

        :param tag_id: the tag's Intercom id.
        :raises IntercomNotFoundError: when no tag has that id.
        """
        return self._request("GET", f"/tags/{_path_segment(tag_id, 'tag_id')}")

    def create_or_update_tag(self, name: str, tag_id: str | None = None) -> dict[str, Any]:
        """
        Create a tag by name, or rename the tag ``tag_id`` (``POST /tags``).

        Names are case-insensitive at Intercom: creating an existing name returns that tag, so the
        call is safe to repeat.

        :param name: the tag's name.
        :param tag_id: the id of a tag to rename, or None to create.
        """
        if not isinstance(name, str) or not name.strip():
            raise IntercomConfigurationError(f"name={name!r} must be a non-empty tag name")
        body: dict[str, Any] = {"name": name.strip()}
        if tag_id is not None:
            body["id"] = str(tag_id)
        return self._request("POST", "/tags", json=body)

    def delete_tag(self, tag_id: str) -> None:
        """
        Delete a tag (``DELETE /tags/{id}``).

        :param tag_id: the tag's Intercom id.
        :raises IntercomBadRequestError: ``tag_has_dependent_objects`` when a segment uses the tag.
        """
        self._request("DELETE", f"/tags/{_path_segment(tag_id, 'tag_id')}")

    # -- contacts -----------------------------------------------------------------------------------

    def get_me(self) -> dict[str, Any]:
        """Return the admin the token belongs to, with its workspace (``GET /me``)."""
        return self._request("GET", "/me")

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """
        Return one contact (``GET /contacts/{id}``).

        :param contact_id: the contact's Intercom id.
        """
        return self._request("GET", f"/contacts/{_path_segment(contact_id, 'contact_id')}")

    def search_contacts(self, query: Mapping[str, Any], per_page: int = 50) -> Iterator[dict[str, Any]]:
        """
        Yield every contact matching a search query, following the cursor page by page.

        The cursor (``pages.next.starting_after``) goes in the request body: Intercom ignores it in
        the query string and would answer page 1 again.

        :param query: an Intercom search query, e.g. ``{"field": "tag_id", "operator": "=", "value": "7"}``.
        :param per_page: contacts per page, 1 to 150.
        """
        if not isinstance(per_page, int) or isinstance(per_page, bool) or not 1 <= per_page <= 150:
            raise IntercomConfigurationError(f"per_page={per_page!r} must be an integer from 1 to 150")
        if not isinstance(query, Mapping) or not query:
            raise IntercomConfigurationError(f"query={query!r} must be a non-empty Intercom search query")
        pagination: dict[str, Any] = {"per_page": per_page}
        seen_cursors: set[str] = set()
        fetched = 0
        while True:
            page = self._request(
                "POST", "/contacts/search", json={"query": dict(query), "pagination": pagination}
            )
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
            cursor = (pages.get("next") or {}).get("starting_after")
            if not cursor or not contacts:
                return
            if cursor in seen_cursors:
                # A cursor that comes back would loop forever; Airbyte once looped for 4M records.
                raise IntercomInvalidResponseError(
                    200, None, f"search cursor {cursor!r} repeated", method="POST", path="/contacts/search"
                )
            seen_cursors.add(cursor)
            pagination = {"per_page": per_page, "starting_after": cursor}

    def list_contact_tags(self, contact_id: str) -> list[dict[str, Any]]:
        """
        Return the tags a contact carries (``GET /contacts/{id}/tags``).

        :param contact_id: the contact's Intercom id.
        """
        return self._request("GET", f"/contacts/{_path_segment(contact_id, 'contact_id')}/tags").get(
            "data", []
        )

    def tag_contact(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        """
        Attach a tag to a contact (``POST /contacts/{id}/tags``); tagging twice is harmless.

        :param contact_id: the contact's Intercom id.
        :param tag_id: the tag's Intercom id.
        """
        _path_segment(tag_id, "tag_id")  # validates; the id travels in the body here
        return self._request(
            "POST",
            f"/contacts/{_path_segment(contact_id, 'contact_id')}/tags",
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
            f"/contacts/{_path_segment(contact_id, 'contact_id')}/tags/{_path_segment(tag_id, 'tag_id')}",
        )


def _float_header(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None
