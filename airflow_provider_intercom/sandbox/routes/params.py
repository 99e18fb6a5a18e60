"""
Reading request values the way Intercom does, for the route modules.

Each helper raises a named error for a value Intercom would refuse, so a handler reads straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_intercom.sandbox.errors import ApiError, ParameterInvalid, ParameterNotFound
from airflow_provider_intercom.sandbox.routing import ApiRequest


def as_id(value: Any) -> str | None:
    """
    Read an id: a string in the schemas, but Intercom's own examples send integers, so accept both.

    :param value: The JSON value.
    :return: The id as a string, or None for any other value.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def object_body(request: ApiRequest, invalid: Callable[[], ApiError]) -> dict[str, Any]:
    """
    Read a body that must be a JSON object.

    :param request: The request.
    :param invalid: Builds the error for a body that is JSON but no object.
    :return: The object.
    :raises ApiError: ``ParameterInvalid`` for a body that is not JSON, ``invalid()`` for one not an object.
    """
    body = request.json_body()
    if not isinstance(body, dict):
        raise invalid()
    return body


def check_type(
    name: str, value: Any, allowed: tuple[type | None, ...], error: type[ApiError] = ParameterInvalid
) -> None:
    """
    Refuse a field value of a type its schema does not allow.

    :param name: The field name, for the message.
    :param value: Its value.
    :param allowed: The allowed types; None in the tuple means the field is nullable.
    :param error: The error to raise.
    :raises ApiError: ``error`` for a value of another type.
    """
    if value is None and None in allowed:
        return
    # bool is an int subclass in Python, not in JSON.
    if isinstance(value, bool) and bool not in allowed:
        raise error(f"{name} has the wrong type")
    if not any(kind is not None and isinstance(value, kind) for kind in allowed):
        raise error(f"{name} has the wrong type")


def required_id(body: dict[str, Any], name: str) -> str:
    """
    Read a required id from a body.

    :param body: The body.
    :param name: The member holding the id.
    :return: The id.
    :raises ParameterNotFound: If it is missing or null.
    :raises ParameterInvalid: If it is neither a string nor an integer.
    """
    if body.get(name) is None:
        raise ParameterNotFound(f"{name} is a required parameter.")
    value = as_id(body[name])
    if value is None:
        raise ParameterInvalid(f"{name} must be a string")
    return value
