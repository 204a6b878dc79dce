"""``fitelctl status``: tunnel health per site, for people (table) and scripts (JSON)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fitelctl.cli import context


class DriverChoice(StrEnum):
    netmiko = "netmiko"
    scrapli = "scrapli"


def status(
    sites: Annotated[
        list[str] | None, typer.Argument(help="Sites to check (default: all).")
    ] = None,
    all_sites: Annotated[
        bool, typer.Option("--all", help="Every site in the inventory (the default).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Sites queried at once (default: inventory's, 16)."),
    ] = None,
    driver: Annotated[
        DriverChoice | None,
        typer.Option("--driver", help="Override the inventory's driver."),
    ] = None,
    trust_new_host_key: Annotated[
        bool,
        typer.Option(
            "--trust-new-host-key",
            help="Accept and record a device's host key that known_hosts does not have yet. "
            "A changed key is always refused.",
        ),
    ] = False,
    session_log: Annotated[
        Path | None,
        typer.Option(
            "--session-log",
            help="Write each site's SSH transcript to DIR/SITE.log (secrets redacted).",
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Report each site's tunnel: state, peer, algorithms, PFS, lifetime left, packets, errors.

    Exit code is the worst state over the sites, Nagios style: 0 up, 1 degraded,
    2 down, 3 unknown (unreachable, login refused, unparseable output).
    """
    from fitelctl.cli.render import SiteProgress, print_status_table
    from fitelctl.ops.connect import ConnectOptions
    from fitelctl.ops.status import collect_status, exit_code

    if session_log:
        session_log.mkdir(parents=True, exist_ok=True)
    options = ConnectOptions(
        driver=driver.value if driver else None,
        trust_new_host_key=trust_new_host_key,
        session_log_dir=session_log,
    )
    if all_sites and sites:
        raise typer.BadParameter("name sites or use --all, not both")
    inventory = context.inventory()
    names = inventory.select(sites or [])
    with SiteProgress("querying sites", total=len(names), enabled=not as_json) as progress:
        results = collect_status(
            inventory,
            names,
            workers=workers or inventory.defaults.workers,
            options=options,
            on_result=lambda result: progress.advance(result.site),
        )
    if as_json:
        json.dump({"sites": [r.to_json() for r in results]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_status_table(results)
    raise typer.Exit(exit_code(results))
