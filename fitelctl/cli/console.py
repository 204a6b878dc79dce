"""The rich consoles the commands print through: one factory, the same settings everywhere.

Imported by the commands that print with rich, inside the command, so that
``status --json`` in a monitoring loop does not pay for importing rich.
"""

from __future__ import annotations

from rich.console import Console

#: Width of piped stdout (logs, monitoring): one row per SA instead of folding at 80 columns.
PIPED_WIDTH = 200


def console(*, stderr: bool = False, soft_wrap: bool = False) -> Console:
    """A console on stdout (or stderr); ``soft_wrap``: lines are never folded."""
    out = Console(stderr=stderr, highlight=False, soft_wrap=soft_wrap)
    if not (stderr or soft_wrap or out.is_terminal):
        out = Console(highlight=False, width=PIPED_WIDTH)
    return out
