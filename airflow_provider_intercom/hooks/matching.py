"""Which contacts a search found for each email or external id wanted, kept in input order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class ContactMatches:
    """
    The contacts found for each wanted value of one field; emails compare case-insensitively.

    :param field_name: the contact field searched, ``email`` or ``external_id``.
    :param values: the values wanted; repeats count once.
    """

    def __init__(self, field_name: str, values: Iterable[str] | None) -> None:
        self.field_name = field_name
        self.wanted = list(dict.fromkeys(values or []))
        self._ids: dict[str, list[str]] = {value: [] for value in self.wanted}
        self._by_key = {self._key(value): value for value in self.wanted}

    def _key(self, value: Any) -> str | None:
        if value is None:
            return None
        return str(value).casefold() if self.field_name == "email" else str(value)

    def add(self, contact: Mapping[str, Any]) -> None:
        """
        Record a contact the search returned, under the wanted value it matches (if any).

        :param contact: a contact object as Intercom returns it.
        """
        value = self._by_key.get(self._key(contact.get(self.field_name)))
        if value is not None and contact["id"] not in self._ids[value]:
            self._ids[value].append(contact["id"])

    def found(self) -> dict[str, list[str]]:
        """Return ``{value: [contact ids]}`` for the values that matched at least one contact."""
        return {value: ids for value, ids in self._ids.items() if ids}

    def unresolved(self) -> list[str]:
        """Return the values that matched no contact."""
        return [value for value, ids in self._ids.items() if not ids]

    def ambiguous(self) -> list[str]:
        """Return the values that matched more than one contact (a user and a lead, say)."""
        return [value for value, ids in self._ids.items() if len(ids) > 1]
