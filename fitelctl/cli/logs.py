"""``fitelctl logs``: the VPN log of a site's VPC router, like ``tail [-f]``."""

from __future__ import annotations

from typing import Annotated

import typer

from fitelctl.cli import context


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
) -> None:
    """Print the VPC router's VPN log (strongSwan charon, every peer), secrets redacted.

    With --follow, the log is downloaded again every 2 seconds and only the new
    lines are printed, until Ctrl-C.
    """
    from fitelctl.ops.logs import follow_router_log, router_log

    inventory = context.inventory()
    if not follow:
        for line in router_log(inventory, site, lines):
            print(line)
        return
    try:
        for line in follow_router_log(inventory, site, lines=lines):
            print(line, flush=True)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
