"""``fitelctl logs``: the VPN log of a site's VPC router, like ``tail [-f]``."""

from __future__ import annotations

from typing import Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import timeout_option

#: ``logs``' default deadline, seconds: two API calls (the router's settings, then the
#: log download, a few hundred kB at most) take seconds; 60 leaves a 503 burst its
#: retries.  Following has no default deadline: it runs until Ctrl-C.
LOGS_TIMEOUT = 60.0


def logs(
    site: Annotated[
        str, typer.Argument(metavar="SITE", help="Site whose VPC router's log to show.")
    ],
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="How many of the latest lines to show.")
    ] = 50,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing new lines as the router logs them (Ctrl-C ends)."
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        timeout_option(
            f"Overall deadline, retries included (default {LOGS_TIMEOUT:g}; with "
            "--follow: none, and when given, following ends there with exit 0).",
            minimum=0.1,
        ),
    ] = None,
) -> None:
    """Print the VPC router's VPN log (strongSwan charon, every peer), secrets redacted.

    With --follow, the log is downloaded again every 2 seconds and only the new
    lines are printed, until Ctrl-C (or --timeout).
    """
    from fitelctl.deadline import command_deadline
    from fitelctl.ops.logs import follow_router_log, router_log

    if not follow:
        with command_deadline(timeout or LOGS_TIMEOUT):
            for line in router_log(context.inventory(), site, lines):
                print(line)
        return
    try:
        with command_deadline(timeout):
            for line in follow_router_log(context.inventory(), site, lines=lines):
                print(line, flush=True)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
