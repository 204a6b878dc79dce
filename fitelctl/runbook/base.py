"""What every runbook operation receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.ops.connect import ConnectOptions


class StepArgumentError(FitelctlError):
    pass


@dataclass
class StepContext:
    inventory: Inventory
    site: str
    run_dir: Path
    connect: ConnectOptions = field(default_factory=ConnectOptions)


@dataclass
class StepResult:
    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False


Operation = Callable[[StepContext, dict[str, Any]], StepResult]
