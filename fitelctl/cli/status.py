"""``fitelctl status``: tunnel health per site, for people (table) and scripts (JSON)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import (
    AllSitesOption,
    DriverOption,
    JsonOption,
    SessionLogOption,
    TrustNewHostKeyOption,
    emit_json,
    timeout_option,
    workers_option,
)

if TYPE_CHECKING:
    from fitelctl.inventory import Inventory


#: Sites read at once when neither ``--workers`` nor the inventory's ``defaults.workers``
#: says.  Reading is harmless and mostly waiting on the network, so ``status`` runs wider
#: than ``apply`` (which keeps ``defaults.workers``' own default, 16: a bad change reaches
#: fewer sites at once).  64 from ``benchmarks/c_drivers.py`` (200 lab sites on 2 cores):
#: netmiko is 30-45% faster at 64 than at 16, scrapli within ~10%; over a WAN, where each
#: session waits longer, a wider pool gains more.
STATUS_WORKERS = 64

#: ``status``'s default overall deadline, seconds.  Nagios kills a check after
#: service_check_timeout (nagios.cfg default 60 s) and Icinga 2 after the command's
#: timeout (1 min by default); 30 s ends well inside both while leaving a slow site
#: its connect and command timeouts and the API a few retries.  Behind NRPE
#: (check_nrpe waits 10 s unless given -t), pass a shorter --timeout.
STATUS_TIMEOUT = 30.0


def status(
    sites: Annotated[
        list[str] | None, typer.Argument(help="Sites to check (default: all).")
    ] = None,
    all_sites: AllSitesOption = False,
    as_json: JsonOption = False,
    workers: Annotated[
        int | None,
        workers_option(
            "Sites queried at once (default: the inventory's defaults.workers if set, "
            f"else {STATUS_WORKERS})."
        ),
    ] = None,
    driver: DriverOption = None,
    trust_new_host_key: TrustNewHostKeyOption = False,
    timeout: Annotated[
        float,
        timeout_option(
            "Overall deadline, retries included; what has not answered by then is "
            "reported as such (exit 3).",
            minimum=0.1,
        ),
    ] = STATUS_TIMEOUT,
    session_log: SessionLogOption = None,
) -> None:
    """Report each site's tunnel: state, peer, algorithms, PFS, lifetime left, packets, errors.

    Exit code is the worst state over the sites, Nagios style: 0 up, 1 degraded,
    2 down, 3 unknown (unreachable, login refused, unparseable output, or no answer
    before the --timeout deadline: what answered is still printed).
    """
    from fitelctl.cli.progress import site_progress
    from fitelctl.deadline import command_deadline
    from fitelctl.ops.connect import ConnectOptions
    from fitelctl.ops.status import collect_status, exit_code

    if all_sites and sites:
        raise typer.BadParameter("name sites or use --all, not both")
    with command_deadline(timeout):
        if session_log:
            session_log.mkdir(parents=True, exist_ok=True)
        options = ConnectOptions(
            driver=driver.value if driver else None,
            trust_new_host_key=trust_new_host_key,
            session_log_dir=session_log,
        )
        inventory = context.inventory()
        names = inventory.select(sites or [])
        with site_progress("querying sites", total=len(names), enabled=not as_json) as progress:
            results = collect_status(
                inventory,
                names,
                workers=workers or _default_workers(inventory),
                options=options,
                on_result=lambda result: progress.advance(result.site),
            )
    if as_json:
        emit_json({"sites": [r.to_json() for r in results]})
    else:
        from fitelctl.cli.tables import print_status_table

        print_status_table(results)
    if results.unanswered:
        print(
            f"fitelctl: status: no answer within the {timeout:g}s deadline (--timeout) from "
            + ", ".join(results.unanswered),
            file=sys.stderr,
        )
        raise typer.Exit(max(3, exit_code(results)))
    raise typer.Exit(exit_code(results))


def _default_workers(inventory: Inventory) -> int:
    if "workers" in inventory.defaults.model_fields_set:
        return inventory.defaults.workers
    return STATUS_WORKERS
