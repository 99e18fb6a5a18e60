"""What every group of endpoint methods relies on: the hook's request path, settings and logger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_intercom._validation import validate_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_intercom.hooks.settings import IntercomSettings


def path_segment(value: Any, name: str) -> str:
    """
    Quote an id for use in a URL path, refusing empty values with the argument's name.

    :param value: the id as given.
    :param name: the argument's name, quoted in the error.
    """
    return quote(validate_id(value, name), safe="")


class EndpointGroup:
    """
    Endpoint methods of :class:`~airflow_provider_intercom.hooks.intercom.IntercomHook` for one resource.

    A group holds no state and sends nothing itself: each method states its endpoint (method, path,
    body) and hands it to the hook's one request path. The declarations below, for type checkers
    only, stand for what the hook provides once it mixes the group in.
    """

    if TYPE_CHECKING:
        # Airflow's LoggingMixin: a logging.Logger on 2.11, a structlog-backed logger on 3.
        @property
        def log(self) -> Any: ...

        @property
        def settings(self) -> IntercomSettings: ...

        def require_version(self, minimum: tuple[int, int], feature: str) -> None: ...

        # IntercomHook._request(method, path, *, json=None, params=None, empty_ok=False)
        _request: Callable[..., Any]
