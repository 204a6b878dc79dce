"""``fitelctl reconnect``: renegotiate a site's tunnel and wait for a new SA."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import JsonOption, emit_json, timeout_option

#: ``reconnect``'s default overall deadline, seconds: the wait for a new SA (the
#: inventory's defaults.verify_timeout, 60 s unless set) plus an SSH login, a few
#: commands and the API re-apply with some retries, with room to spare.
RECONNECT_TIMEOUT = 120.0


class SideChoice(StrEnum):
    cloud = "cloud"
    device = "device"
    both = "both"


def reconnect(
    site: Annotated[str, typer.Argument(help="Site to reconnect.")],
    side: Annotated[
        SideChoice | None,
        typer.Option(
            "--side",
            help="cloud: re-apply the VPC router's config (the documented call with the effect "
            "of the control panel's VPN reconnect); device: clear the F220's SAs; both. "
            "Default: both when the site has a cloud side, else device.",
        ),
    ] = None,
    as_json: JsonOption = False,
    timeout: Annotated[
        float,
        timeout_option(
            "Overall deadline: login, the re-apply and its retries, and the wait for "
            "the new SA (which is the inventory's defaults.verify_timeout within it)."
        ),
    ] = RECONNECT_TIMEOUT,
) -> None:
    """Make the tunnel negotiate again; succeed only when a new SA is up.

    Note: re-applying the VPC router's config renegotiates every peer on that router.
    Exit 0 when reconnected, 1 when no new SA came up (the message says why).
    """
    from fitelctl.deadline import command_deadline
    from fitelctl.ops.reconnect import reconnect_site

    with command_deadline(timeout):
        inventory = context.inventory()
        inventory.site(site)
        outcome = reconnect_site(inventory, site, side.value if side else None)
    if as_json:
        emit_json(outcome.to_json())
    else:
        from fitelctl.cli.console import console
        from fitelctl.cli.tables import RESULT_STYLE

        stdout = console()

        style = "green" if outcome.result == "reconnected" else RESULT_STYLE["failed"]
        stdout.print(f"[{style}]{outcome.result}[/] {site} (side: {outcome.side})")
        if outcome.before:
            stdout.print(f"  before: SA {outcome.before.in_spi}/{outcome.before.out_spi}")
        if outcome.after:
            after = outcome.after
            stdout.print(
                f"  after:  SA {after.in_spi}/{after.out_spi} {after.encryption} "
                f"{after.authentication} PFS group {after.pfs_group}"
            )
        for problem in outcome.problems:
            stdout.print(f"  {problem}", markup=False)
    raise typer.Exit(0 if outcome.result == "reconnected" else 1)
