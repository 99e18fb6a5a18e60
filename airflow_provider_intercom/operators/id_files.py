"""
Files of ids, local or in object storage (``s3://``, ``gs://``, ...), gzip or not, streamed by line.

The format comes from the extension, never from the content: CSV, JSON lines, or plain text.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_intercom._validation import is_plain_id, refuse_rendered_none, validate_id_key
from airflow_provider_intercom.exceptions import IntercomConfigurationError


def read_ids_file(
    path: str | os.PathLike[str], *, id_key: str | None = None, conn_id: str | None = None
) -> Iterator[str]:
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

    A ``.gz`` ending (``churn.csv.gz``) is decompressed as it streams; the format comes from the
    extension before it. A path with a scheme (``s3://``, ``gs://``, ``file://``, ...) is read
    through Airflow's ``ObjectStoragePath``, with ``conn_id`` for the store's credentials.

    Blank lines are skipped and ids are trimmed; the file is read as UTF-8 (a BOM is dropped).

    :param path: the file's path or URL.
    :param id_key: the CSV column or JSON field that holds the id.
    :param conn_id: the Airflow connection of a remote object store.
    :raises IntercomConfigurationError: naming the file, the line number and what is wrong.
    """
    if isinstance(path, bool) or not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise IntercomConfigurationError(f"ids_file={path!r} must be the path of a file")
    validate_id_key(id_key)
    name = str(path).strip()
    refuse_rendered_none(name, "ids_file")
    suffixes = [suffix.lower() for suffix in Path(name).suffixes]
    compressed = suffixes[-1:] == [".gz"]
    suffix = next(reversed(suffixes[:-1] if compressed else suffixes), "")
    with open_text(name, conn_id, compressed=compressed) as handle:
        try:
            if suffix == ".csv":
                yield from _csv_ids(handle, name, id_key)
            elif suffix in (".jsonl", ".ndjson"):
                yield from _json_lines_ids(handle, name, id_key)
            else:
                yield from _text_ids(handle, name)
        except UnicodeDecodeError as error:
            raise IntercomConfigurationError(
                f"ids_file {shown_path(name)!r} is not UTF-8 text: {error}"
            ) from error
        except (OSError, EOFError) as error:  # a truncated or corrupt .gz, or a read that failed midway
            raise IntercomConfigurationError(
                f"ids_file {shown_path(name)!r} cannot be read: {error}"
            ) from error


def _file_error(name: str, line: int, what: str) -> IntercomConfigurationError:
    return IntercomConfigurationError(f"ids_file {shown_path(name)!r}, line {line}: {what}")


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


@contextmanager
def open_text(
    name: str, conn_id: str | None, *, compressed: bool = False, field: str = "ids_file"
) -> Iterator[IO[str]]:
    """
    Open a local file or an object-storage URL as UTF-8 text, decompressing gzip as it streams.

    :param name: the path or URL.
    :param conn_id: the object store's connection, for a URL.
    :param compressed: whether the file is gzip.
    :param field: the argument that named the file, for the error.
    :raises IntercomConfigurationError: naming the file (never its credentials) when it cannot be opened.
    """
    try:
        if "://" in name:
            from airflow.providers.common.compat.sdk import ObjectStoragePath

            raw: IO[bytes] = ObjectStoragePath(name, conn_id=conn_id).open("rb")
        else:
            raw = open(Path(name).expanduser(), "rb")
    except (OSError, ValueError) as error:  # ValueError: a scheme no installed provider reads
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise IntercomConfigurationError(f"{field} {shown_path(name)!r} cannot be read: {reason}") from error
    binary = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    try:
        yield io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    finally:
        binary.close()
        raw.close()


def shown_path(name: str) -> str:
    """
    Return a path as errors and lineage may show it: a URL loses any user name and password it carries.

    :param name: the path or URL.
    """
    if "://" not in name:
        return name
    parts = urlsplit(name)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
