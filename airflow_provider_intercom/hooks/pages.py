"""
Walking Intercom's two kinds of pagination; the hook supplies the one call that fetches a page.

Search endpoints hand out a cursor (``pages.next.starting_after``), list endpoints page numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airflow_provider_intercom.exceptions import IntercomInvalidResponseError


def cursor_pages(
    fetch: Callable[[dict[str, Any]], Mapping[str, Any]], per_page: int, *, method: str, path: str
) -> Iterator[Mapping[str, Any]]:
    """
    Yield each page of a search, asking for the next one only when the last has been consumed.

    :param fetch: sends one request with the given ``pagination`` object and returns the answer.
    :param per_page: items per page.
    :param method: HTTP method of the search, for the error on a repeated cursor.
    :param path: its path, for the same error.
    :raises IntercomInvalidResponseError: when a cursor comes back, which would loop forever.
    """
    pagination: dict[str, Any] = {"per_page": per_page}
    seen_cursors: set[str] = set()
    while True:
        page = fetch(pagination)
        yield page
        cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
        if not cursor or not page.get("data"):
            return
        if cursor in seen_cursors:
            # Airbyte once looped for 4M records on such a cursor.
            raise IntercomInvalidResponseError(
                200, None, f"search cursor {cursor!r} repeated", method=method, path=path
            )
        seen_cursors.add(cursor)
        pagination = {"per_page": per_page, "starting_after": cursor}


def numbered_pages(fetch: Callable[[int], Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """
    Yield the items of page 1, 2, ... until an empty page or the last one ``pages.total_pages`` names.

    :param fetch: sends one request for the given page number and returns the answer.
    """
    page = 1
    while True:
        answer = fetch(page)
        items = answer.get("data") or []
        yield from items
        total_pages = (answer.get("pages") or {}).get("total_pages") or 1
        if not items or page >= total_pages:
            return
        page += 1
