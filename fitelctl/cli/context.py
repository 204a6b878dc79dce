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
    """One line on stderr, with secrets masked, and exit.

    As a monitoring plugin (``status --nagios``) the line is the plugin's UNKNOWN line on
    stdout, exit 3, whatever failed: a usage error as much as an unreadable inventory.
    """
    from fitelctl.redact import SECRETS

    if plugin_mode():
        from fitelctl.nagios import UNKNOWN, unknown_line

        print(unknown_line(SECRETS.redact(message)))
        sys.exit(UNKNOWN)
    print(f"fitelctl: error: {SECRETS.redact(message)}", file=sys.stderr)
    sys.exit(code)


def plugin_mode() -> bool:
    """Whether the command line asks for ``--nagios``.  Read from ``sys.argv`` because a
    usage error ends the run before any option is parsed, and must still be one line."""
    args = sys.argv[1:]
    if "--" in args:
        args = args[: args.index("--")]
    return "--nagios" in args
