"""
The ids an operator is given (lists, XCom rows, mapped outputs, files), read the same way everywhere.

Nothing here makes a request: every rule refuses bad input, naming the field, before any write.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import reprlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from airflow_provider_intercom._validation import MAX_BULK_BATCH, is_plain_id, validate_positive_int
from airflow_provider_intercom.exceptions import IntercomConfigurationError

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
    _check_id_key(id_key)
    if _is_mapped_outputs(value):
        ids = [
            item
            for number, output in enumerate(value)
            for item in _ids_in(output, f"{field}[{number}]", id_key)
        ]
    else:
        ids = _ids_in(value, field, id_key)
    return list(dict.fromkeys(ids))


def _check_id_key(id_key: str | None) -> None:
    if id_key is not None and (not isinstance(id_key, str) or not id_key.strip()):
        raise IntercomConfigurationError(f"id_key={id_key!r} must be a non-empty column name")


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


def refuse_rendered_none(text: str, field: str) -> None:
    """
    Refuse a template that rendered nothing as the text ``None`` (or ``null``), before it is read as an id.

    A template such as ``"{{ ti.xcom_pull('export') }}"`` renders ``None`` when the upstream task
    pushed nothing; read as text it would be one id named "None", and a sync would then plan to
    untag every member.

    :param text: the rendered argument.
    :param field: its name, quoted in the error.
    """
    if text.strip() in ("None", "null"):
        raise IntercomConfigurationError(
            f"{field}={text.strip()!r} is what a template renders for a missing value: most likely an "
            "upstream XCom that was never pushed (a task that returned nothing, or a wrong task_ids or "
            "key in xcom_pull). Pass the XComArg itself (task.output) or fix the template"
        )


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


def read_ids_file(path: str | os.PathLike[str], *, id_key: str | None = None) -> Iterator[str]:
    """
    Yield the ids in a file, line by line: the file is streamed, never read into one string.

    The format is chosen by the file's extension (case-insensitive), never guessed from content:

    - ``.csv``: a header row, then one row per item; ``id_key`` names the column holding the id
      and is required (a header is never guessed: a headerless file would lose its first id).
      Read with :mod:`csv`, so quoted cells may hold commas and line breaks.
    - ``.jsonl`` / ``.ndjson``: one JSON value per line, an object (``id_key`` picks the field) or
      a string or integer id.
    - anything else: plain text, one id per line; a line holding a comma or tab is refused (it
      looks like a CSV row: name the file ``.csv``).

    Blank lines are skipped and ids are trimmed; the file is read as UTF-8 (a BOM is dropped).

    :param path: the file's path.
    :param id_key: the CSV column or JSON field that holds the id.
    :raises IntercomConfigurationError: naming the file, the line number and what is wrong.
    """
    if isinstance(path, bool) or not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise IntercomConfigurationError(f"ids_file={path!r} must be the path of a file")
    _check_id_key(id_key)
    name = str(path).strip()
    refuse_rendered_none(name, "ids_file")
    suffix = Path(name).suffix.lower()
    try:
        handle = open(Path(name).expanduser(), encoding="utf-8-sig", newline="")
    except OSError as error:
        raise IntercomConfigurationError(f"ids_file {name!r} cannot be read: {error.strerror}") from error
    with handle:
        try:
            if suffix == ".csv":
                yield from _csv_ids(handle, name, id_key)
            elif suffix in (".jsonl", ".ndjson"):
                yield from _json_lines_ids(handle, name, id_key)
            else:
                yield from _text_ids(handle, name)
        except UnicodeDecodeError as error:
            raise IntercomConfigurationError(f"ids_file {name!r} is not UTF-8 text: {error}") from error


def _file_error(name: str, line: int, what: str) -> IntercomConfigurationError:
    return IntercomConfigurationError(f"ids_file {name!r}, line {line}: {what}")


def _csv_ids(handle: IO[str], name: str, id_key: str | None) -> Iterator[str]:
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
        if header is None:
            return
        columns = [column.strip() for column in header]
        shown = ", ".join(repr(column) for column in columns[:10])
        if id_key is None:
            raise _file_error(
                name, 1, f"a CSV file needs id_key, the header's id column (the header: {shown})"
            )
        if id_key not in columns:
            raise _file_error(name, 1, f"the header has no column id_key={id_key!r} (it has: {shown})")
        position = columns.index(id_key)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if position >= len(row):
                raise _file_error(
                    name, reader.line_num, f"the row has {len(row)} cells, none in column {id_key!r}"
                )
            value = row[position].strip()
            if not value:
                raise _file_error(name, reader.line_num, f"column {id_key!r} is empty")
            yield value
    except csv.Error as error:
        raise _file_error(name, reader.line_num, f"not valid CSV: {error}") from error


def _json_lines_ids(handle: IO[str], name: str, id_key: str | None) -> Iterator[str]:
    for number, line in enumerate(handle, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            item = json.loads(text)
        except ValueError as error:
            raise _file_error(name, number, f"not a JSON value ({error})") from error
        where = "the value"
        if isinstance(item, dict):
            if id_key is None:
                raise _file_error(name, number, "an object: set id_key to the field that holds the id")
            if id_key not in item:
                fields = ", ".join(repr(key) for key in list(item)[:10]) or "none"
                raise _file_error(
                    name, number, f"the object has no field id_key={id_key!r} (it has: {fields})"
                )
            item, where = item[id_key], f"field {id_key!r}"
        if not is_plain_id(item):
            raise _file_error(name, number, f"{where} {reprlib.repr(item)} is not an id (a non-empty string)")
        yield str(item).strip()


def _text_ids(handle: IO[str], name: str) -> Iterator[str]:
    for number, line in enumerate(handle, start=1):
        text = line.strip()
        if not text:
            continue
        if "," in text or "\t" in text:
            raise _file_error(
                name,
                number,
                f"{reprlib.repr(text)} holds several values; a text file takes one id per line "
                "(for columns, use a .csv file and id_key)",
            )
        yield text


def gather_ids(
    value: Any, field: str, *, id_key: str | None = None, ids_file: str | os.PathLike[str] | None = None
) -> list[str]:
    """
    Return a list argument's ids (see :func:`normalize_ids`) followed by a file's (see :func:`read_ids_file`).

    :param value: the list argument as given or rendered.
    :param field: its name, quoted in errors.
    :param id_key: the column (dict key, CSV column, JSON field) that holds the id.
    :param ids_file: a file of more ids for this argument; None reads no file.
    """
    ids = normalize_ids(value, field, id_key=id_key)
    if ids_file is not None:
        ids.extend(read_ids_file(ids_file, id_key=id_key))
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
