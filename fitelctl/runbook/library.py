"""Where runbooks are found: a path, ``./playbooks/NAME.yaml``, or the shipped ones.

The shipped runbooks live in the repository's top-level ``playbooks/``; a wheel
carries them as ``fitelctl/_playbooks`` (see pyproject.toml), like the parsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from fitelctl.runbook.format import Runbook, RunbookError, load_runbook

if TYPE_CHECKING:
    from fitelctl.runbook.base import Operation


def shipped_dir() -> Path:
    installed = Path(__file__).resolve().parent.parent / "_playbooks"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent.parent / "playbooks"


def search_dirs() -> list[Path]:
    local = Path.cwd() / "playbooks"
    shipped = shipped_dir()
    return [local, shipped] if local.resolve() != shipped.resolve() else [shipped]


def find_runbook(name: str) -> Path:
    as_path = Path(name)
    if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
        return as_path
    for directory in search_dirs():
        candidate = directory / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(available())) or "none"
    raise RunbookError(f"no runbook '{name}' (known: {known}; or give a path to a .yaml file)")


def available() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in reversed(search_dirs()):
        for path in sorted(directory.glob("*.yaml")):
            found[path.stem] = path
    return found


def load(name: str, operations: Mapping[str, Operation]) -> Runbook:
    return load_runbook(find_runbook(name), operations)
