"""The Intercom hook: connection, region, API version, and the one HTTP path every call goes through."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import tenacity
from airflow.providers.common.compat.sdk import BaseHook, mask_secret
from requests.adapters import HTTPAdapter

from airflow_provider_intercom import __version__
from airflow_provider_intercom._validation import (
    validate_id,
    validate_int_range,
    validate_tag_name,
)
from airflow_provider_intercom.exceptions import (
    IntercomAPIError,
    IntercomConfigurationError,
    IntercomInvalidResponseError,
    IntercomNotFoundError,
    IntercomRateLimitError,
    IntercomServerError,
    IntercomTransportError,
    error_class_for,
)
from airflow_provider_intercom.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_intercom.hooks.pacing import RateLimitPacer

REGION_BASE_URLS: dict[str, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
# The web app people use, per region; only links point there, the hook never calls it.
REGION_APP_URLS: dict[str, str] = {
    "us": "https://app.intercom.com",
    "eu": "https://app.eu.intercom.com",
    "au": "https://app.au.intercom.com",
}
# The connection form declares the defaults; the hook applies them to connections that omit a value.
DEFAULT_REGION: str = CONN_FIELDS["region"]["schema"]["default"]
DEFAULT_API_VERSION: str = CONN_FIELDS["api_version"]["schema"]["default"]
# Every 2.x version Intercom has published, and Preview (called Unstable until April 2026).
SUPPORTED_API_VERSIONS: tuple[str, ...] = (*(f"2.{minor}" for minor in range(17)), "Preview")

# What the request path retries; a sensor also treats these as "not yet" once the retries are spent.
TRANSIENT_ERRORS = (
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


def version_at_least(version: str, minimum: tuple[int, int]) -> bool:
    """
    Tell whether an API version is ``minimum`` or later; Preview counts as the newest.

    :param version: a canonical version, as returned by :func:`validate_api_version`.
    :param minimum: ``(major, minor)``, e.g. ``(2, 10)``.
    """
    if version == "Preview":
        return True
    major, minor = version.split(".")
    return (int(major), int(minor)) >= minimum


def _path_segment(value: Any, name: str) -> str:
    """Quote an id for use in a URL path, refusing empty values with the argument's name."""
    return quote(validate_id(value, name), safe="")


def _choice_widget(choices: Sequence[str]) -> Callable[..., Any]:
    """
    Return a wtforms widget that draws a text field as a drop-down of ``choices``.

    Airflow 2.11 drops a hook whose form has a ``SelectField``: it takes only string, password,
    integer and boolean fields. A value outside ``choices`` (a connection written by hand) is kept
    as one more option, so saving the form never changes it silently.

    :param choices: the values offered, each shown as its own label.
    """
    from markupsafe import Markup, escape
    from wtforms.widgets import html_params

    def render(field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("class", kwargs.pop("class_", "form-control"))  # styled like the text fields
        current = str(field.data or "").strip()
        known = current.lower() in choices
        options = [*choices] if known or not current else [*choices, current]
        selected = current.lower() if known else current
        rendered = "".join(
            f"<option {html_params(value=value, selected=value == selected)}>{escape(value)}</option>"
            for value in options
        )
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{rendered}</select>")

    return render


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

    # Airflow 3 builds the connection form from the provider info's conn-fields and
    # ui-field-behaviour and does not call these two; Airflow 2.11's UI reads only these.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the connection form's extra fields (region, api_version) for Airflow 2.11's UI."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField

        widgets = {}
        for name, spec in CONN_FIELDS.items():
            schema = spec["schema"]
            widgets[name] = StringField(
                lazy_gettext(spec["label"]),
                description=spec["description"],
                default=schema.get("default"),
                widget=_choice_widget(schema["enum"]) if "enum" in schema else BS3TextFieldWidget(),
            )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return which standard fields the connection form hides, relabels and fills with hints."""
        return {key.replace("-", "_"): copy.deepcopy(value) for key, value in UI_FIELD_BEHAVIOUR.items()}

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
        scheme = url.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise IntercomConfigurationError(
                f"host={host!r} must be an http:// or https:// URL (or empty, to use the region's URL)"
            )
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
        empty_ok: bool = False,
    ) -> Any:
        """
        Send one API call with pacing and retries, and return its decoded JSON (None for no body).

        :param method: HTTP method.
        :param path: path below the base URL, starting with ``/``, ids already quoted.
        :param json: request body.
        :param params: query-string parameters.
        :param empty_ok: the endpoint answers success with no body (``DELETE /tags/{id}``). Elsewhere
            an empty 200 means the answer was lost, so it is retried like any unreadable answer.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._retry_wait,
            retry=tenacity.retry_if_exception_type(TRANSIENT_ERRORS),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._send_once, method, path, json, params, empty_ok)

    def _send_once(
        self,
        method: str,
        path: str,
        json: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        empty_ok: bool,
    ) -> Any:
        session = self._session
        url = f"{self.settings.base_url}{path}"
        self.pacer.acquire()
        try:
            response = session.request(method, url, json=json, params=params, timeout=self.timeout)
            self.pacer.update(response.headers)
        except requests.Timeout as error:
            raise IntercomTransportError(method, path, f"timed out ({type(error).__name__})") from error
        except requests.ConnectionError as error:
            raise IntercomTransportError(
                method, path, f"connection failed ({type(error).__name__})"
            ) from error
        finally:
            self.pacer.release()
        if response.status_code >= 400:
            raise self._error_from(response, method, path)
        if not response.content:
            if empty_ok or response.status_code == 204:
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
            canonical=(response.links.get("canonical") or {}).get("url"),
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

    def tag_users(self, tag_name: str, contact_ids: Iterable[str]) -> dict[str, Any]:
        """
        Tag many contacts in one call (``POST /tags`` with ``users: [{id}]``); creates the tag if missing.

        Up to API 2.15 one unknown id fails the whole call with 404 and nobody is tagged. From 2.16
        unknown ids are skipped, and the answer lists ``users: [{id, tagged}]`` for those tagged.

        :param tag_name: the tag's name.
        :param contact_ids: Intercom contact ids; Intercom advises at most 50 per call.
        """
        users = [
            {"id": validate_id(contact_id, f"contact_ids[{i}]")} for i, contact_id in enumerate(contact_ids)
        ]
        return self._request("POST", "/tags", json={"name": validate_tag_name(tag_name), "users": users})

    def tag_companies(self, tag_name: str, companies: Iterable[Mapping[str, str]]) -> dict[str, Any]:
        """
        Tag many companies in one call (``POST /tags`` with ``companies``); creates the tag if missing.

        :param tag_name: the tag's name.
        :param companies: ``{"id": <Intercom id>}`` or ``{"company_id": <your id>}`` items.
        """
        return self._bulk_companies(tag_name, companies, untag=False)

    def untag_companies(self, tag_name: str, companies: Iterable[Mapping[str, str]]) -> dict[str, Any]:
        """
        Remove a tag from many companies in one call (``POST /tags`` with ``untag: true`` on each).

        :param tag_name: the tag's name.
        :param companies: ``{"id": <Intercom id>}`` or ``{"company_id": <your id>}`` items.
        """
        return self._bulk_companies(tag_name, companies, untag=True)

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
            "added": [
                self.tag_companies(tag_name, additions[start : start + batch_size])
                for start in range(0, len(additions), batch_size)
            ],
            "removed": [
                self.untag_companies(tag_name, removals[start : start + batch_size])
                for start in range(0, len(removals), batch_size)
            ],
        }

    def _bulk_companies(
        self, tag_name: str, companies: Iterable[Mapping[str, str]], *, untag: bool
    ) -> dict[str, Any]:
        items = []
        for index, company in enumerate(companies):
            keys = set(company) if isinstance(company, Mapping) else set()
            if not keys or not keys <= {"id", "company_id"}:
                raise IntercomConfigurationError(
                    f"companies[{index}]={company!r} must be {{'id': ...}}, {{'company_id': ...}} or both"
                )
            item: dict[str, Any] = {
                key: validate_id(value, f"companies[{index}].{key}") for key, value in company.items()
            }
            if untag:
                item["untag"] = True
            items.append(item)
        return self._request("POST", "/tags", json={"name": validate_tag_name(tag_name), "companies": items})

    def delete_tag(self, tag_id: str) -> None:
        """
        Delete a tag (``DELETE /tags/{id}``).

        :param tag_id: the tag's Intercom id.
        :raises IntercomBadRequestError: ``tag_has_dependent_objects`` when a segment uses the tag.
        """
        self._request("DELETE", f"/tags/{_path_segment(tag_id, 'tag_id')}", empty_ok=True)

    # -- contacts -----------------------------------------------------------------------------------

    def get_me(self) -> dict[str, Any]:
        """Return the admin the token belongs to, with its workspace (``GET /me``)."""
        return self._request("GET", "/me")

    def app_url(self) -> str:
        """
        Return the workspace's home in the Intercom web app, e.g. ``https://app.eu.intercom.com/a/apps/x1y2``.

        The host follows the region (a connection ``host`` overrides only the API's URL); the app
        id is the workspace's ``app.id_code``, read with one ``GET /me``.

        :raises IntercomInvalidResponseError: when ``GET /me`` names no app id.
        """
        app_id = (self.get_me().get("app") or {}).get("id_code")
        if not isinstance(app_id, str) or not app_id.strip():
            raise IntercomInvalidResponseError(
                200, None, f"no app.id_code in the answer ({app_id!r})", method="GET", path="/me"
            )
        return f"{REGION_APP_URLS[self.settings.region]}/a/apps/{quote(app_id.strip(), safe='')}"

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """
        Return one contact (``GET /contacts/{id}``).

        From API 2.16 a merged contact answers 410 ``contact_merged`` with a canonical ``Link``
        to the contact it was merged into; the hook follows that link once, and logs it.

        :param contact_id: the contact's Intercom id.
        """
        path = f"/contacts/{_path_segment(contact_id, 'contact_id')}"
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
        return self._request("PUT", f"/contacts/{_path_segment(contact_id, 'contact_id')}", json=fields)

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
            wanted = list(dict.fromkeys(values or []))
            matches: dict[str, list[str]] = {value: [] for value in wanted}
            by_key = {_match_key(field_name, value): value for value in wanted}
            for start in range(0, len(wanted), chunk_size):
                chunk = wanted[start : start + chunk_size]
                query = {"field": field_name, "operator": "IN", "value": chunk}
                for contact in self.search_contacts(query, per_page=150):
                    value = by_key.get(_match_key(field_name, contact.get(field_name)))
                    if value is not None and contact["id"] not in matches[value]:
                        matches[value].append(contact["id"])
            result[kind] = {value: ids for value, ids in matches.items() if ids}
            result["unresolved"][kind] = [value for value, ids in matches.items() if not ids]
            result["ambiguous"][kind] = [value for value, ids in matches.items() if len(ids) > 1]
        return result

    def unknown_contact_ids(self, contact_ids: Iterable[str]) -> list[str]:
        """
        Return the ids, in input order, that belong to no contact.

        One ``id IN`` search per 50 ids finds the known ones; the few it misses are checked with
        ``GET /contacts/{id}``, since a new contact can take minutes to become searchable.

        :param contact_ids: Intercom contact ids.
        """
        wanted = list(dict.fromkeys(contact_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 50):
            chunk = wanted[start : start + 50]
            query = {"field": "id", "operator": "IN", "value": chunk}
            found.update(contact["id"] for contact in self.search_contacts(query, per_page=150))
        unknown = []
        for contact_id in wanted:
            if contact_id in found:
                continue
            try:
                self._request("GET", f"/contacts/{_path_segment(contact_id, 'contact_id')}")
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

    # -- companies ---------------------------------------------------------------------------------

    def find_company(self, company_id: str) -> dict[str, Any]:
        """
        Return the company with your ``company_id`` (``GET /companies?company_id=``).

        :param company_id: your id for the company (not Intercom's).
        :raises IntercomNotFoundError: when no company has it.
        """
        answer = self._request(
            "GET", "/companies", params={"company_id": validate_id(company_id, "company_id")}
        )
        if answer.get("type") != "list":
            return answer
        if not answer.get("data"):
            raise IntercomNotFoundError(
                404, "company_not_found", "Company Not Found", method="GET", path="/companies"
            )
        return answer["data"][0]

    def get_company(self, company_id: str) -> dict[str, Any]:
        """
        Return the company with this Intercom id (``GET /companies/{id}``).

        :param company_id: Intercom's id for the company.
        """
        return self._request("GET", f"/companies/{_path_segment(company_id, 'company_id')}")

    def list_companies(
        self, tag_id: str | None = None, segment_id: str | None = None, per_page: int = 50
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the companies carrying a tag, or in a segment, page by page (``GET /companies``).

        :param tag_id: the tag's Intercom id.
        :param segment_id: a segment's Intercom id.
        :param per_page: companies per page.
        """
        params: dict[str, Any] = {"per_page": per_page}
        if tag_id is not None:
            params["tag_id"] = validate_id(tag_id, "tag_id")
        if segment_id is not None:
            params["segment_id"] = validate_id(segment_id, "segment_id")
        page = 1
        while True:
            answer = self._request("GET", "/companies", params={**params, "page": page})
            companies = answer.get("data") or []
            yield from companies
            total_pages = (answer.get("pages") or {}).get("total_pages") or 1
            if not companies or page >= total_pages:
                return
            page += 1

    # -- conversations and tickets -------------------------------------------------------------------

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
        return self._request("POST", f"/{kind}/{_path_segment(item_id, id_name)}/tags", json=body)

    def _untag_item(
        self, kind: str, id_name: str, item_id: str, tag_id: str, admin_id: str
    ) -> dict[str, Any]:
        path = f"/{kind}/{_path_segment(item_id, id_name)}/tags/{_path_segment(tag_id, 'tag_id')}"
        return self._request("DELETE", path, json={"admin_id": validate_id(admin_id, "admin_id")})

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


def tag_summary(tag: Mapping[str, Any]) -> dict[str, Any]:
    """
    Keep only the tag fields a report needs: ``{"type", "id", "name"}``.

    :param tag: a tag object as Intercom returns it.
    """
    return {"type": "tag", "id": tag.get("id"), "name": tag.get("name")}


def _match_key(field_name: str, value: Any) -> str | None:
    if value is None:
        return None
    return str(value).casefold() if field_name == "email" else str(value)


def _float_header(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None
