"""What a hook talks to: regions and their URLs, API versions, and the settings resolved from both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_intercom._connection_form import DEFAULT_API_VERSION
from airflow_provider_intercom.exceptions import IntercomConfigurationError

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
# Every 2.x version Intercom has published, and Preview (called Unstable until April 2026).
SUPPORTED_API_VERSIONS: tuple[str, ...] = (*(f"2.{minor}" for minor in range(17)), "Preview")


@dataclass(frozen=True)
class IntercomSettings:
    """
    What a hook talks to, resolved from its connection and arguments.

    :param base_url: scheme and host (and port), no trailing slash.
    :param region: us, eu or au.
    :param api_version: the ``Intercom-Version`` header value.
    :param token: the access token; kept out of ``repr``.
    :param app_id: the workspace's app id, when the connection's ``app_id`` extra gives it.
    """

    base_url: str
    region: str
    api_version: str
    token: str = field(repr=False)
    app_id: str | None = None


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


def connection_extra(extras: Mapping[str, Any], name: str) -> Any:
    """
    Return a connection extra, under its plain name or the prefixed one older Airflow forms stored.

    :param extras: the connection's ``extra_dejson``.
    :param name: the field, e.g. ``region``.
    """
    return extras.get(name) or extras.get(f"extra__intercom__{name}")


def base_url_for(host: str | None, port: int | None, region: str) -> str:
    """
    Return the URL calls go to: the connection's ``host`` if given, else the region's.

    A host without a scheme gets ``https://``. The connection's ``port`` applies only when the
    host names none of its own; ``urlsplit`` tells, so IPv6 hosts such as ``[::1]`` work too.

    :param host: the connection's host, e.g. ``http://127.0.0.1:8111`` or ``proxy.internal``.
    :param port: the connection's port.
    :param region: a region, as returned by :func:`validate_region`.
    """
    if not host or not host.strip():
        return REGION_BASE_URLS[region]
    url = host.strip().rstrip("/")
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        own_port = parts.port  # raises for a port that is not a number
    except ValueError as error:
        raise IntercomConfigurationError(f"host={host!r} is not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https"):  # urlsplit lowercases the scheme
        raise IntercomConfigurationError(
            f"host={host!r} must be an http:// or https:// URL (or empty, to use the region's URL)"
        )
    if port and own_port is None:
        parts = parts._replace(netloc=f"{parts.netloc}:{port}")
    return urlunsplit(parts)
