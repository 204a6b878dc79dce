"""State shared by the commands of one invocation, and the one way to fail."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from fitelctl.inventory import Inventory


@dataclass
class CliState:
    inventory_option: Path | None = None
    debug: bool = False


STATE = CliState()


def inventory() -> Inventory:
    from fitelctl.inventory import inventory_path, load_inventory

    return load_inventory(inventory_path(STATE.inventory_option))


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, with secrets masked, and exit."""
    from fitelctl.redact import SECRETS

    print(f"fitelctl: error: {SECRETS.redact(message)}", file=sys.stderr)
    sys.exit(code)
