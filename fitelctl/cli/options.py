"""The options several commands share, each declared once, and the one way to print JSON.

A command takes an option by annotating its parameter with the alias here
(``as_json: JsonOption = False``), so the flag, its short form and its help read
the same in every ``--help``.  Options whose meaning depends on the command
(``--timeout``'s deadline, ``--workers``' default, ``--dry-run``'s effect) are
declared by a function that takes the command's own help text.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer


class DriverChoice(StrEnum):
    netmiko = "netmiko"
    scrapli = "scrapli"
    asyncssh = "asyncssh"


JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Answer yes to every confirmation (do not ask).")
]
TrustNewHostKeyOption = Annotated[
    bool,
    typer.Option(
        "--trust-new-host-key",
        help="Accept and record a device's host key that known_hosts does not have yet. "
        "A changed key is always refused.",
    ),
]
DriverOption = Annotated[
    DriverChoice | None, typer.Option("--driver", help="Override the inventory's driver.")
]
SessionLogOption = Annotated[
    Path | None,
    typer.Option(
        "--session-log",
        help="Write each site's SSH transcript to DIR/SITE.log (secrets redacted).",
        metavar="DIR",
    ),
]
AllSitesOption = Annotated[bool, typer.Option("--all", help="Every site in the inventory.")]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Go on despite check errors, or take along another session's uncommitted "
        "edits in working.cfg (recorded in the audit log).",
    ),
]


def timeout_option(help: str, *, minimum: float = 1) -> Any:
    """``--timeout SECONDS``: the command's overall deadline, as ``help`` describes it."""
    return typer.Option("--timeout", min=minimum, metavar="SECONDS", help=help)


def deadline_help(default: float) -> str:
    """The ``--timeout`` help of commands whose deadline needs no more words."""
    return f"Overall deadline, retries and waits included (default {default:g})."


def workers_option(help: str) -> Any:
    """``--workers N``: how many sites are worked on at once."""
    return typer.Option("--workers", min=1, help=help)


def dry_run_option(help: str) -> Any:
    """``--dry-run``: what the command would do, doing nothing; ``help`` says what is shown."""
    return typer.Option("--dry-run", help=help)


def show_secrets_option(help: str) -> Any:
    """``--show-secrets``: the one way to see what is masked by default; ``help`` says what."""
    return typer.Option("--show-secrets", help=help)


def emit_json(document: Any) -> None:
    """The one JSON document of a ``--json`` run (or of ``parse``), on stdout."""
    # one write: json.dump writes every token on its own, a system call each when
    # stdout is unbuffered (python -u, PYTHONUNBUFFERED), 2 s for a 1,000-site status
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
