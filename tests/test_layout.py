"""
The layout rules, checked on the source: which way imports run, how large a module or function grows.

The README's "Where things are" table states the same rules; these tests keep the two honest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_provider_intercom"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50

# Each layer and what it may import from the package; a layer never imports one listed after it here.
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "exceptions": set(),
    "_validation": {"exceptions"},
    "_connection_form": set(),
    "get_provider_info": {"_connection_form"},
    "hooks": {"exceptions", "_validation", "_connection_form", "hooks"},
    "links": set(),
    "assets": set(),  # Airflow loads it to normalise intercom:// URIs: it imports nothing of ours
    "triggers": {"exceptions", "_validation", "_connection_form", "hooks", "triggers"},
    "sensors": {"exceptions", "_validation", "hooks", "triggers", "sensors"},
    "operators": {"exceptions", "_validation", "hooks", "links", "assets", "operators"},
    "sandbox": {"sandbox"},
}


def _modules() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_layers(path: Path) -> set[str]:
    """Return the package layers a module imports (``airflow_provider_intercom.<layer>...``)."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level:  # relative: within its own layer
            layers.add(_layer(path))
        for name in names:
            parts = name.split(".")
            if parts[0] == "airflow_provider_intercom" and len(parts) > 1:
                layers.add(parts[1])
    return layers


def test_the_walk_reads_every_layer():
    # If the walk found nothing, every rule below would hold vacuously.
    assert {_layer(path) for path in _modules()} >= {"hooks", "operators", "sandbox", "triggers", "sensors"}
    assert "hooks" in _imported_layers(PACKAGE / "operators" / "base.py")


@pytest.mark.parametrize("path", list(_modules()), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_run_one_way(path: Path):
    layer = _layer(path)
    if layer == "__init__":
        return
    imported = _imported_layers(path) - {"__version__", "__init__"}
    assert imported <= ALLOWED_IMPORTS[layer], (
        f"{layer} may not import {sorted(imported - ALLOWED_IMPORTS[layer])}"
    )


def test_the_rule_catches_a_wrong_way_import(tmp_path):
    module = tmp_path / "wrong.py"
    module.write_text("from airflow_provider_intercom.operators.tags import TagContactsOperator\n")
    assert _imported_layers(module) == {"operators"}
    assert not _imported_layers(module) <= ALLOWED_IMPORTS["hooks"]


@pytest.mark.parametrize("path", list(_modules()), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path: Path):
    lines = path.read_text().splitlines()
    assert len(lines) <= MAX_MODULE_LINES, f"{len(lines)} lines: split it by concern"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse("\n".join(lines)))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES + _literal_lines(node)
    ]
    assert long == []


def _literal_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Count the lines of a function's largest dict or list literal: data, not logic, not held against it."""
    sizes = [
        node.end_lineno - node.lineno + 1
        for node in ast.walk(function)
        if isinstance(node, ast.Dict | ast.List) and node.end_lineno is not None
    ]
    return max(sizes, default=0)
