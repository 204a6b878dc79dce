"""No import cycles in fitelctl, between modules or between its packages.

Imports are read from the source (module level only: ``TYPE_CHECKING`` blocks
and imports inside functions do not run at import time).  A package counts as
one unit in the second test, so ``fitelnet`` may not import a module that
imports anything from ``fitelnet`` back, even when the modules themselves do
not form a loop.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import fitelctl

ROOT = Path(fitelctl.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = ["fitelctl", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _top_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            yield from _top_level_imports(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level_imports(node.body + node.orelse + node.finalbody)


@cache
def _imported_modules() -> dict[str, set[str]]:
    """Each fitelctl module and the fitelctl modules it imports at import time (read
    once: both tests use it)."""
    modules = _modules()
    imported: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _top_level_imports(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                assert node.level == 0, f"{name}: relative import"
                base = node.module or ""
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and not name.startswith(target + "."):
                    imported[name].add(target)
    return imported


def _graph(unit: Callable[[str], str]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {unit(name): set() for name in _imported_modules()}
    for name, targets in _imported_modules().items():
        graph[unit(name)] |= {unit(t) for t in targets if unit(t) != unit(name)}
    return graph


@pytest.mark.parametrize(
    "unit",
    [lambda name: name, lambda name: ".".join(name.split(".")[:2])],
    ids=["modules", "packages"],
)
def test_no_import_cycles(unit: Callable[[str], str]) -> None:
    graph = _graph(unit)
    graph.pop("fitelctl", None)
    for deps in graph.values():
        deps.discard("fitelctl")
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")
