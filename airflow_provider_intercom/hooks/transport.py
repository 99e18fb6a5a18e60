"""
How one call reaches Intercom: the session, one paced attempt, errors mapped from answers, retries.

The hook states each endpoint (method, path, body) and sends it through :func:`send_once`, retried
by the tenacity policy :class:`RetryPolicy` configures. Nothing here knows an endpoint.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests
import tenacity
from requests.adapters import HTTPAdapter

from airflow_provider_intercom import __version__
from airflow_provider_intercom.exceptions import (
    IntercomAPIError,
    IntercomInvalidResponseError,
    IntercomRateLimitError,
    IntercomServerError,
    IntercomTransportError,
    error_class_for,
)
from airflow_provider_intercom.hooks.pacing import RateLimitPacer
from airflow_provider_intercom.hooks.settings import IntercomSettings

# What the request path retries; a sensor also treats these as "not yet" once the retries are spent.
TRANSIENT_ERRORS = (
    IntercomServerError,
    IntercomRateLimitError,
    IntercomInvalidResponseError,
    IntercomTransportError,
)


def new_session(settings: IntercomSettings) -> requests.Session:
    """
    Return a pooled, keep-alive session that sends Intercom's headers on every request.

    :param settings: the token and API version to send.
    """
    session = requests.Session()
    _mount_adapters(session)
    _set_headers(session, settings)
    return session


def _mount_adapters(session: requests.Session) -> None:
    # Retries are ours (they know Intercom's rate-limit headers); urllib3 must not add its own.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def _set_headers(session: requests.Session, settings: IntercomSettings) -> None:
    session.headers.update(
        {
            "Authorization": f"Bearer {settings.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Intercom-Version": settings.api_version,
            "User-Agent": f"airflow-provider-intercom/{__version__}",
        }
    )


@dataclass(frozen=True)
class RetryPolicy:
    """
    When to retry a call and how long to wait, as tenacity's ``Retrying`` takes it.

    :param max_retries: retries after the first attempt, for :data:`TRANSIENT_ERRORS` only.
    :param backoff_base: seconds of the first backoff; it doubles each retry, with full jitter.
    :param backoff_max: the longest backoff between two retries, in seconds.
    :param max_rate_limit_wait: the longest wait for a rate-limit window to reset, in seconds.
    """

    max_retries: int
    backoff_base: float
    backoff_max: float
    max_rate_limit_wait: float

    def retrying(self, log: logging.Logger) -> tenacity.Retrying:
        """
        Return a tenacity ``Retrying`` that applies this policy and logs each retry.

        :param log: where the retries are logged (the hook's logger).
        """
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self.wait,
            retry=tenacity.retry_if_exception_type(TRANSIENT_ERRORS),
            before_sleep=partial(self._log_retry, log),
            reraise=True,
        )

    def wait(self, retry_state: tenacity.RetryCallState) -> float:
        """
        Return the seconds to wait before the next attempt.

        :param retry_state: tenacity's state of the call, with the error of the last attempt.
        """
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, IntercomRateLimitError) and error.reset_at is not None:
            # Wait for the window to reset; the jitter keeps workers that were refused together
            # from all retrying in the same instant (Intercom asked peers not to stampede).
            until_reset = max(error.reset_at - time.time(), 0.0)
            return min(until_reset + random.uniform(0.05, 0.5), self.max_rate_limit_wait)
        return tenacity.wait_random_exponential(multiplier=self.backoff_base, max=self.backoff_max)(
            retry_state
        )

    def _log_retry(self, log: logging.Logger, retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "Intercom call failed (%s); retry %d of %d in %.1f s",
            error,
            retry_state.attempt_number,
            self.max_retries,
            delay,
        )


def send_once(
    session: requests.Session,
    pacer: RateLimitPacer,
    url: str,
    method: str,
    path: str,
    *,
    json: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    timeout: float | tuple[float, float],
    empty_ok: bool,
) -> Any:
    """
    Send one attempt, paced, and return its decoded JSON (None for no body); raise what failed.

    :param session: the hook's session.
    :param pacer: the hook's pacer, told of the budget each answer reports.
    :param url: the full URL.
    :param method: HTTP method.
    :param path: the path below the base URL, for error messages.
    :param json: request body.
    :param params: query-string parameters.
    :param timeout: seconds, as ``requests`` takes them.
    :param empty_ok: an empty body is success here; elsewhere it means the answer was lost.
    """
    with pacer.slot():
        try:
            response = session.request(method, url, json=json, params=params, timeout=timeout)
        except requests.Timeout as error:
            raise IntercomTransportError(method, path, f"timed out ({type(error).__name__})") from error
        except requests.ConnectionError as error:
            raise IntercomTransportError(
                method, path, f"connection failed ({type(error).__name__})"
            ) from error
        pacer.update(response.headers)
    if response.status_code >= 400:
        raise error_from(response, method, path, pacer)
    return _decode(response, method, path, empty_ok)


def _decode(response: requests.Response, method: str, path: str, empty_ok: bool) -> Any:
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


def error_from(
    response: requests.Response, method: str, path: str, pacer: RateLimitPacer
) -> IntercomAPIError:
    """
    Return the error an answer of 400 or more stands for, with Intercom's code, message and request id.

    A 429 also marks the pacer's budget as spent until the reset it names.

    :param response: the answer.
    :param method: HTTP method of the call.
    :param path: path of the call.
    :param pacer: the hook's pacer.
    """
    body = _json_or_none(response)
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
            pacer.exhaust_until(kwargs["reset_at"])
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


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _float_header(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None
