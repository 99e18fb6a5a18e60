"""Every public class, function and method of the package documents each argument with ``:param:``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

import airflow_provider_intercom

# The CLI entry module runs on import; its options are documented by ``--help`` (tested in test_sandbox_cli).
_NOT_IMPORTED = {"airflow_provider_intercom.sandbox.__main__"}


def _public_modules() -> Iterator[Any]:
    for info in pkgutil.walk_packages(airflow_provider_intercom.__path__, "airflow_provider_intercom."):
        if info.name in _NOT_IMPORTED or any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        yield importlib.import_module(info.name)


def _documented_callables() -> Iterator[tuple[str, Any, Any]]:
    """Yield (qualified name, object carrying the docstring, callable whose parameters it must name)."""
    for module in _public_modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            label = f"{module.__name__}.{name}"
            if inspect.isfunction(obj):
                yield label, obj, obj
            elif inspect.isclass(obj):
                # A class documents its constructor (dataclasses included) in its own docstring.
                yield label, obj, vars(obj).get("__init__")
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    function = (
                        member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                    )
                    if inspect.isfunction(function):
                        yield f"{label}.{attr}", function, function


def _missing_params(doc: str, function: Any) -> list[str]:
    skipped = {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}
    return [
        parameter.name
        for parameter in inspect.signature(function).parameters.values()
        if parameter.name not in {"self", "cls"}
        and parameter.kind not in skipped
        and f":param {parameter.name}:" not in doc
    ]


def test_the_walk_finds_the_public_api():
    labels = {label for label, _, _ in _documented_callables()}
    # If the walk silently found nothing, the check below would pass vacuously.
    assert "airflow_provider_intercom.hooks.endpoints.tags.TagEndpoints.tag_users" in labels
    assert "airflow_provider_intercom.operators.contacts.TagContactsOperator" in labels
    assert "airflow_provider_intercom.sandbox.models.Contact" in labels
    assert len(labels) > 150


def test_every_public_callable_has_a_docstring_naming_each_argument():
    problems = []
    for label, documented, function in _documented_callables():
        doc = documented.__doc__ or ""
        if not doc.strip():
            problems.append(f"{label}: no docstring")
        elif function is not None:
            problems.extend(f"{label}: no ':param {name}:'" for name in _missing_params(doc, function))
    assert problems == []


def test_the_check_catches_an_undocumented_argument():
    def documented(alpha: int, beta: int) -> None:
        """
        Do something.

        :param alpha: The first.
        """

    assert _missing_params(documented.__doc__ or "", documented) == ["beta"]
