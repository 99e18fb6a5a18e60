"""
Contact search queries and cursor pagination, as ``POST /contacts/search`` documents them.

A query is a single filter ``{field, operator, value}`` or a group ``{operator: AND|OR, value: [...]}``.
Operators are checked per field type: ``tag_id`` takes only ``=`` and ``!=``; date fields take ``=``, ``<``
and ``>`` (``=`` matches the same UTC day); ``IN``/``NIN`` need an array. Invalid queries raise
:class:`QueryError`, which the route answers with a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_intercom.sandbox.models import Contact

Predicate = Callable[[Contact], bool]

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 150
# Intercom allows two levels of nested groups and 15 filters in each group.
MAX_NESTING = 2
MAX_FILTERS_PER_GROUP = 15
SECONDS_PER_DAY = 86_400

STRING_OPERATORS = frozenset({"=", "!=", "IN", "NIN", "~", "!~", "^", "$"})
BOOLEAN_OPERATORS = frozenset({"=", "!=", "IN", "NIN"})
DATE_OPERATORS = frozenset({"=", "<", ">"})
TAG_OPERATORS = frozenset({"=", "!="})
ALL_OPERATORS = STRING_OPERATORS | DATE_OPERATORS | {"<=", ">="}

STRING_FIELDS: dict[str, Callable[[Contact], str | None]] = {
    "id": lambda contact: contact.id,
    "email": lambda contact: contact.email,
    "email_domain": lambda contact: contact.email.rpartition("@")[2] if contact.email else None,
    "external_id": lambda contact: contact.external_id,
    "role": lambda contact: contact.role,
    "name": lambda contact: contact.name,
    "phone": lambda contact: contact.phone,
}
DATE_FIELDS: dict[str, Callable[[Contact], int | None]] = {
    "created_at": lambda contact: contact.created_at,
    "updated_at": lambda contact: contact.updated_at,
    "signed_up_at": lambda contact: contact.signed_up_at,
    "last_seen_at": lambda contact: contact.last_seen_at,
}
BOOLEAN_FIELDS: dict[str, Callable[[Contact], bool]] = {
    "unsubscribed_from_emails": lambda contact: contact.unsubscribed_from_emails,
}
SORTABLE_FIELDS: dict[str, Callable[[Contact], Any]] = {**STRING_FIELDS, **DATE_FIELDS}


class QueryError(ValueError):
    """
    A search body Intercom would refuse with a 400.

    :param message: Human-readable reason.
    :param code: The ``errors[].code`` to answer with.
    """

    def __init__(self, message: str, code: str = "parameter_invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def compile_query(query: Any, depth: int = 0) -> Predicate:
    """
    Turn a search query into a predicate over contacts.

    :param query: The ``query`` member of the search body.
    :param depth: How many groups enclose this node.
    :return: A function telling whether a contact matches.
    :raises QueryError: If the query is invalid.
    """
    if not isinstance(query, dict):
        raise QueryError("query must be an object")
    if "field" in query:
        return _compile_filter(query)
    operator, members = query.get("operator"), query.get("value")
    if operator not in ("AND", "OR"):
        raise QueryError("a filter needs 'field', 'operator' and 'value'; a group needs operator AND or OR")
    if depth >= MAX_NESTING:
        raise QueryError(f"queries can nest at most {MAX_NESTING} levels of AND/OR")
    if not isinstance(members, list) or not members:
        raise QueryError(f"the value of an {operator} group must be a non-empty array of filters")
    if len(members) > MAX_FILTERS_PER_GROUP:
        raise QueryError(f"an {operator} group can hold at most {MAX_FILTERS_PER_GROUP} filters")
    predicates = [compile_query(member, depth + 1) for member in members]
    combine = all if operator == "AND" else any
    return lambda contact: combine(predicate(contact) for predicate in predicates)


def _compile_filter(node: dict[str, Any]) -> Predicate:
    field, operator, value = node.get("field"), node.get("operator"), node.get("value")
    if not isinstance(field, str):
        raise QueryError("'field' must be a string")
    if not isinstance(operator, str) or operator not in ALL_OPERATORS:
        raise QueryError(f"operator {operator!r} is not a valid search operator")
    if field == "tag_id":
        return _tag_filter(operator, value)
    if field in STRING_FIELDS:
        return _string_filter(STRING_FIELDS[field], field, operator, value)
    if field in DATE_FIELDS:
        return _date_filter(DATE_FIELDS[field], field, operator, value)
    if field in BOOLEAN_FIELDS:
        return _boolean_filter(BOOLEAN_FIELDS[field], field, operator, value)
    raise QueryError(f"'{field}' is not a searchable contact field in the sandbox", code="invalid_field")


def _require_operator(field: str, operator: str, allowed: frozenset[str]) -> None:
    if operator not in allowed:
        raise QueryError(
            f"operator {operator} is not supported for field {field}; use one of {sorted(allowed)}"
        )


def _scalar(value: Any) -> str | None:
    # Intercom accepts numbers where strings are expected, and null for "no value".
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise QueryError(f"value {value!r} must be a string, a number or null")


def _string_array(value: Any, operator: str) -> list[str]:
    if not isinstance(value, list):
        raise QueryError(f"operator {operator} needs an array value")
    return [item for item in map(_scalar, value) if item is not None]


def _tag_filter(operator: str, value: Any) -> Predicate:
    _require_operator("tag_id", operator, TAG_OPERATORS)
    tag_id = _scalar(value)
    if operator == "=":
        return lambda contact: tag_id in contact.tags
    return lambda contact: tag_id not in contact.tags


def _string_filter(
    getter: Callable[[Contact], str | None], field: str, operator: str, value: Any
) -> Predicate:
    _require_operator(field, operator, STRING_OPERATORS)
    # Intercom matches emails without regard to case.
    fold: Callable[[str], str] = str.casefold if field in ("email", "email_domain") else str

    def folded(contact: Contact) -> str | None:
        found = getter(contact)
        return None if found is None else fold(found)

    if operator in ("IN", "NIN"):
        wanted = {fold(item) for item in _string_array(value, operator)}
        if operator == "IN":
            return lambda contact: folded(contact) in wanted
        return lambda contact: folded(contact) not in wanted
    scalar = _scalar(value)
    target = None if scalar is None else fold(scalar)
    if operator == "=":
        return lambda contact: folded(contact) == target
    if operator == "!=":
        return lambda contact: folded(contact) != target
    if target is None:
        raise QueryError(f"operator {operator} needs a string value")
    text_tests: dict[str, Callable[[str], bool]] = {
        "~": lambda found: target in found,
        "!~": lambda found: target not in found,
        "^": lambda found: found.startswith(target),
        "$": lambda found: found.endswith(target),
    }
    test = text_tests[operator]
    return lambda contact: (found := folded(contact)) is not None and test(found)


def _date_filter(getter: Callable[[Contact], int | None], field: str, operator: str, value: Any) -> Predicate:
    _require_operator(field, operator, DATE_OPERATORS)
    scalar = _scalar(value)
    if scalar is None or not scalar.lstrip("-").isdigit():
        raise QueryError(f"field {field} needs a Unix timestamp value")
    moment = int(scalar)
    if operator == "=":
        # Dates match by calendar day; the sandbox workspace's timezone is UTC.
        return lambda contact: (
            (found := getter(contact)) is not None and (found // SECONDS_PER_DAY == moment // SECONDS_PER_DAY)
        )
    if operator == "<":
        return lambda contact: (found := getter(contact)) is not None and found < moment
    return lambda contact: (found := getter(contact)) is not None and found > moment


def _boolean_filter(getter: Callable[[Contact], bool], field: str, operator: str, value: Any) -> Predicate:
    _require_operator(field, operator, BOOLEAN_OPERATORS)
    values = value if operator in ("IN", "NIN") else [value]
    if not isinstance(values, list) or not all(isinstance(item, bool) for item in values):
        raise QueryError(f"field {field} needs boolean values")
    if operator in ("=", "IN"):
        return lambda contact: getter(contact) in values
    return lambda contact: getter(contact) not in values


def sort_contacts(contacts: list[Contact], sort: Any) -> list[Contact]:
    """
    Order search results as the optional ``sort`` member (2.16) asks; creation order when absent.

    :param contacts: The matching contacts, in creation order.
    :param sort: ``{"field": str, "order": "ascending"|"descending"}`` or None.
    :return: The contacts in the requested order; those without a value for the field come last.
    :raises QueryError: For an unknown field or order.
    """
    if sort is None:
        return contacts
    if not isinstance(sort, dict):
        raise QueryError("sort must be an object")
    order = sort.get("order", "descending")
    if order not in ("ascending", "descending"):
        raise QueryError(
            f"Invalid sort order '{order}'. Must be one of: ascending, descending", code="invalid_sort_order"
        )
    field = sort.get("field", "created_at")
    if not isinstance(field, str) or field not in SORTABLE_FIELDS:
        raise QueryError(f"cannot sort on field {field!r}")
    getter = SORTABLE_FIELDS[field]
    with_value = [contact for contact in contacts if getter(contact) is not None]
    without_value = [contact for contact in contacts if getter(contact) is None]
    return sorted(with_value, key=getter, reverse=order == "descending") + without_value


@dataclass(frozen=True)
class PageRequest:
    """
    Where a page starts and how long it is.

    :param per_page: Items per page.
    :param offset: Index of the page's first item in the full result.
    """

    per_page: int
    offset: int


def encode_cursor(offset: int) -> str:
    """
    Make the opaque ``starting_after`` cursor for the page starting at ``offset``.

    :param offset: Index of the first contact of the page.
    :return: The cursor.
    """
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_cursor(cursor: str) -> int:
    """
    Read back a cursor made by :func:`encode_cursor`.

    :param cursor: The ``starting_after`` value.
    :return: The offset.
    :raises QueryError: If it is not one of ours.
    """
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError):
        raise QueryError("starting_after is not a valid cursor") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise QueryError("starting_after is not a valid cursor")
    return offset


def parse_page_request(per_page: Any, starting_after: Any, default_per_page: int) -> PageRequest:
    """
    Validate pagination input, from the search body or from a query string.

    :param per_page: Requested page size, None for the default; capped at 150.
    :param starting_after: Cursor from the previous page's ``pages.next``, or None.
    :param default_per_page: Page size when none is asked for.
    :return: The page request.
    :raises QueryError: If a value is invalid.
    """
    if per_page is None:
        size = default_per_page
    elif isinstance(per_page, int) and not isinstance(per_page, bool) and per_page >= 1:
        size = min(per_page, MAX_PER_PAGE)
    else:
        raise QueryError("per_page must be a positive integer")
    if starting_after is not None and not isinstance(starting_after, str):
        raise QueryError("starting_after must be a string")
    return PageRequest(per_page=size, offset=0 if not starting_after else decode_cursor(starting_after))


def page_of(items: Sequence[Contact], page: PageRequest) -> tuple[Sequence[Contact], dict[str, Any]]:
    """
    Cut one page out of the results and describe it as ``cursor_pages``.

    :param items: All matching contacts, in order.
    :param page: Which page.
    :return: The page's contacts and the ``pages`` object (``next`` absent on the last page).
    """
    end = page.offset + page.per_page
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page.offset // page.per_page + 1,
        "per_page": page.per_page,
        "total_pages": math.ceil(len(items) / page.per_page),
    }
    if end < len(items):
        pages["next"] = {"per_page": page.per_page, "starting_after": encode_cursor(end)}
    return items[page.offset : end], pages
