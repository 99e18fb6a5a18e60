"""
The ids an operator is given (lists, XCom rows, mapped outputs, files), read the same way everywhere.

Nothing here makes a request: every rule refuses bad input, naming the field, before any write.
"""

from __future__ import annotations

import ast
import json
import math
import os
import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_provider_intercom._validation import (
    MAX_BULK_BATCH,
    is_plain_id,
    refuse_rendered_none,
    validate_id_key,
    validate_positive_int,
)
from airflow_provider_intercom.exceptions import IntercomConfigurationError
from airflow_provider_intercom.operators.id_files import read_ids_file

DEFAULT_MAX_MAP_LENGTH = 1024
_MAPPED_OUTPUT_CLASSES = frozenset({"LazyXComSequence", "LazyXComSelectSequence"})


def normalize_ids(value: Any, field: str, *, id_key: str | None = None) -> list[str]:
    """
    Turn an operator's list argument into unique, trimmed string ids, in input order.

    Accepts a list (or any iterable, including a resolved XComArg) or a string: a JSON list, a
    Python list literal (what a non-native template renders from a SQL task's rows), or ids
    separated by commas or white space. Each item of the list is read by these rules:

    - a plain id (a non-empty string or an integer) is an id;
    - a one-column row, a tuple or list of exactly one item (what ``SQLExecuteQueryOperator`` pushes
      for ``SELECT id ...``), is the id it holds;
    - a dict is a row with named columns: ``id_key`` names the column holding the id, and without
      ``id_key`` it is refused;
    - a tuple or list of several items is refused. It may be a row with several columns (``SELECT
      id, email``) or a chunk of ids, and the two look alike (a JSON round trip turns tuples into
      lists); flattening it would tag column values as ids, so the error asks to select only the id
      column, return dicts and set ``id_key``, or pass a flat list. ``id_key`` cannot pick from a
      tuple either: a tuple has no column names.

    The one nesting read without asking is Airflow's own list of mapped outputs (the lazy
    sequence a mapped task's XComArg resolves to downstream): each element is one mapped task's
    return value and is read by the rules above, so chunks from mapped tasks keep working.

    :param value: the argument as given or rendered; None means "not given".
    :param field: the argument's name, quoted in errors.
    :param id_key: the column (dict key) that holds the id when items are dict rows.
    :raises IntercomConfigurationError: on an item that is not an id, naming the field and the
        position of the item as given (``emails[3]``, or ``contact_ids[2][5]`` in mapped outputs).
    """
    validate_id_key(id_key)
    if _is_mapped_outputs(value):
        ids = [
            item
            for number, output in enumerate(value)
            for item in _ids_in(output, f"{field}[{number}]", id_key)
        ]
    else:
        ids = _ids_in(value, field, id_key)
    return list(dict.fromkeys(ids))


def _is_mapped_outputs(value: Any) -> bool:
    """
    Tell whether ``value`` is Airflow's lazy sequence of every mapped task's return value.

    Matched by class name (``LazyXComSequence`` in Airflow 3's task SDK, ``LazyXComSelectSequence``
    in Airflow 2), so neither Airflow version has to be imported to ask.
    """
    return any(cls.__name__ in _MAPPED_OUTPUT_CLASSES for cls in type(value).__mro__)


def _ids_in(value: Any, field: str, id_key: str | None) -> list[str]:
    """Read one list argument (or one mapped output) by the rules of :func:`normalize_ids`."""
    if value is None:
        return []
    if isinstance(value, str):
        refuse_rendered_none(value, field)
        value = _parse_list_string(value, field)
    if isinstance(value, dict) or not isinstance(value, Iterable):
        raise IntercomConfigurationError(f"{field}={reprlib.repr(value)} must be a list of ids")
    return [_id_of(item, f"{field}[{index}]", id_key) for index, item in enumerate(value)]


def _parse_list_string(text: str, field: str) -> Any:
    text = text.strip()
    if not text.startswith("["):
        return text.replace(",", " ").split()
    try:
        return json.loads(text)
    except ValueError as error:
        try:  # a non-native template renders Python's repr, e.g. [('a',), ('b',)] from a SQL task
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise IntercomConfigurationError(f"{field} is not a valid JSON list: {error}") from error
        if not isinstance(parsed, list):
            raise IntercomConfigurationError(f"{field} is not a valid JSON list: {error}") from error
        return parsed


def _id_of(item: Any, where: str, id_key: str | None) -> str:
    """Return the id one item stands for: a plain id, a one-column row, or a dict row's ``id_key``."""
    if isinstance(item, dict):
        columns = ", ".join(repr(key) for key in list(item)[:10]) or "none"
        if id_key is None:
            raise IntercomConfigurationError(
                f"{where} is a row with named columns ({columns}): set id_key to the column that holds the id"
            )
        if id_key not in item:
            raise IntercomConfigurationError(
                f"{where} has no column id_key={id_key!r} (its columns: {columns})"
            )
        return _plain_id(item[id_key], f"{where}[{id_key!r}]")
    if isinstance(item, list | tuple):
        if len(item) == 1:
            return _plain_id(item[0], f"{where}[0]")
        if not item:
            raise IntercomConfigurationError(f"{where}={item!r} is an empty row: every item must be an id")
        if isinstance(item, tuple) and id_key is not None:
            raise IntercomConfigurationError(
                f"{where}={reprlib.repr(item)} is a row with {len(item)} columns but no column names, so "
                f"id_key={id_key!r} cannot pick one: select only the id column, or return rows as dicts"
            )
        raise IntercomConfigurationError(
            f"{where}={reprlib.repr(item)} holds {len(item)} values: a row with several columns (or a "
            "nested list of ids) is not read as ids. Select only the id column, return rows as dicts "
            "and set id_key to the id column, or pass a flat list of ids"
        )
    return _plain_id(item, where)


def _plain_id(item: Any, where: str) -> str:
    if not is_plain_id(item):
        raise IntercomConfigurationError(
            f"{where}={reprlib.repr(item)} is not an id: every item must be a non-empty string"
        )
    return str(item).strip()


def gather_ids(
    value: Any,
    field: str,
    *,
    id_key: str | None = None,
    ids_file: str | os.PathLike[str] | None = None,
    ids_file_conn_id: str | None = None,
) -> list[str]:
    """
    Return a list argument's ids (see :func:`normalize_ids`) followed by a file's (see :func:`read_ids_file`).

    :param value: the list argument as given or rendered.
    :param field: its name, quoted in errors.
    :param id_key: the column (dict key, CSV column, JSON field) that holds the id.
    :param ids_file: a file of more ids for this argument; None reads no file.
    :param ids_file_conn_id: the connection of the object store ``ids_file`` is in, if remote.
    """
    ids = normalize_ids(value, field, id_key=id_key)
    if ids_file is not None:
        ids.extend(read_ids_file(ids_file, id_key=id_key, conn_id=ids_file_conn_id))
    return list(dict.fromkeys(ids))


def chunk_ids(
    ids: Sequence[Any], size: int = MAX_BULK_BATCH, max_chunks: int | None = None
) -> list[list[str]]:
    """
    Split ids into chunks for dynamic task mapping, never more chunks than Airflow can map.

    ``TagContactsOperator.partial(...).expand(contact_ids=chunk_ids(ids, 500))`` maps one task per
    chunk. Airflow refuses more than ``[core] max_map_length`` (1024 by default) mapped tasks, so
    when ``size`` would make more chunks than that, the chunks grow instead.

    :param ids: the ids to split (deduplicated, order kept).
    :param size: ids per chunk.
    :param max_chunks: the most chunks to return; defaults to ``[core] max_map_length``.
    """
    validate_positive_int(size, "size")
    unique = normalize_ids(list(ids), "ids")
    limit = max_chunks if max_chunks is not None else _max_map_length()
    size = max(size, math.ceil(len(unique) / limit)) if unique else size
    return [unique[start : start + size] for start in range(0, len(unique), size)]


def _max_map_length() -> int:
    try:
        from airflow.providers.common.compat.sdk import conf

        return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_MAP_LENGTH)
    except Exception:  # no Airflow configuration to read (e.g. plain Python): use Airflow's default
        return DEFAULT_MAX_MAP_LENGTH
