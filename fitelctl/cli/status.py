"""``fitelctl status``: tunnel health per site, for people (table) and scripts (JSON)."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

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
from fitelctl.errors import FitelctlError

if TYPE_CHECKING:
    from fitelctl.inventory import Inventory
    from fitelctl.nagios import Thresholds
    from fitelctl.ops.status import Statuses


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


def _threshold(name: str, short: str, state: str, figure: str) -> Any:
    """A ``--nagios`` threshold option: a Monitoring Plugins range for one figure."""
    return typer.Option(
        name, short, metavar="RANGE", help=f"With --nagios: {state} when RANGE alerts on {figure}."
    )


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
    nagios: Annotated[
        bool,
        typer.Option(
            "--nagios",
            help="Be a Nagios/Icinga check of one SITE: one line 'FITELCTL STATE - …' with "
            "performance data, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (every error "
            "too); nothing on stderr. Thresholds are Monitoring Plugins ranges: 300: alerts "
            "under 300, ~:10 over 10, 10 outside 0..10, @10:20 inside 10..20.",
        ),
    ] = False,
    warning_lifetime: Annotated[
        str | None,
        _threshold("--warning-lifetime", "-w", "WARNING", "the SA lifetime remaining (s)"),
    ] = None,
    critical_lifetime: Annotated[
        str | None,
        _threshold("--critical-lifetime", "-c", "CRITICAL", "the SA lifetime remaining (s)"),
    ] = None,
    warning_errors: Annotated[
        str | None,
        _threshold(
            "--warning-errors", "-W", "WARNING", "the inbound SA errors (default 0: any error)"
        ),
    ] = None,
    critical_errors: Annotated[
        str | None, _threshold("--critical-errors", "-C", "CRITICAL", "the inbound SA errors")
    ] = None,
) -> None:
    """Report each site's tunnel: state, peer, algorithms, PFS, lifetime left, packets, errors.

    Exit code is the worst state over the sites, Nagios style: 0 up, 1 degraded,
    2 down, 3 unknown (unreachable, login refused, unparseable output, or no answer
    before the --timeout deadline: what answered is still printed).  With --nagios,
    a monitoring plugin for one site (docs/output-contract.md#status---nagios).
    """
    from fitelctl.cli.progress import shows_bar, site_progress
    from fitelctl.deadline import command_deadline
    from fitelctl.ops.connect import ConnectOptions
    from fitelctl.ops.processes import processes_for
    from fitelctl.ops.status import collect_status, exit_code

    if all_sites and sites:
        raise typer.BadParameter("name sites or use --all, not both")
    started = time.monotonic()
    if nagios:
        from fitelctl.nagios import Thresholds

        if as_json:
            raise typer.BadParameter("--nagios prints one plugin line; it takes no --json")
        if all_sites or len(sites or []) != 1:
            raise typer.BadParameter("--nagios checks exactly one site: status SITE --nagios")
        thresholds = (
            Thresholds.parse(
                ("--warning-lifetime", warning_lifetime), ("--critical-lifetime", critical_lifetime)
            ),
            Thresholds.parse(
                ("--warning-errors", warning_errors), ("--critical-errors", critical_errors)
            ),
        )
    elif any(
        t is not None
        for t in (warning_lifetime, critical_lifetime, warning_errors, critical_errors)
    ):
        raise typer.BadParameter("thresholds (-w/-c/-W/-C) judge a --nagios check; add --nagios")
    with command_deadline(timeout), _plugin_quiet(nagios):
        if session_log:
            session_log.mkdir(parents=True, exist_ok=True)
        options = ConnectOptions(
            driver=driver.value if driver else None,
            trust_new_host_key=trust_new_host_key,
            session_log_dir=session_log,
        )
        inventory = context.inventory()
        names = inventory.select(sites or [])
        progress_shown = not (as_json or nagios)
        with site_progress("querying sites", total=len(names), enabled=progress_shown) as progress:
            results = collect_status(
                inventory,
                names,
                workers=workers or _default_workers(inventory),
                # no fork beside the bar's refresh thread (a fork copies no threads)
                processes=1 if shows_bar(progress_shown) else processes_for(len(names)),
                options=options,
                on_result=lambda result: progress.advance(result.site),
            )
    if nagios:
        _plugin_verdict(inventory, results, thresholds, time.monotonic() - started, timeout)
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


@contextmanager
def _plugin_quiet(nagios: bool) -> Iterator[None]:
    """Nothing on stderr while a plugin runs (unless --debug): Icinga 2 reads a plugin's
    stderr into its output, where retry lines and warnings would bury the status line."""
    if not nagios or context.STATE.debug:
        yield
        return
    with redirect_stderr(io.StringIO()):
        try:
            yield
        except Exception as err:  # a plugin's catch-all: a bug is still one UNKNOWN line
            if isinstance(err, FitelctlError | typer.Exit | typer.TyperException):
                raise
            raise FitelctlError(f"unexpected {type(err).__name__}: {err}") from err


def _plugin_verdict(
    inventory: Inventory,
    results: Statuses,
    thresholds: tuple[Thresholds, Thresholds],
    poll_time: float,
    timeout: float,
) -> NoReturn:
    from fitelctl.nagios import check
    from fitelctl.redact import SECRETS

    (site,) = results
    config = inventory.site(site.site)
    lifetime, errors = thresholds
    verdict = check(
        site,
        peer=config.cloud.global_address,
        interface=config.tunnel.label,
        lifetime=lifetime,
        errors=errors,
        poll_time=poll_time,
        timeout=timeout,
    )
    print(SECRETS.redact(verdict.line))
    raise typer.Exit(verdict.code)


def _default_workers(inventory: Inventory) -> int:
    if "workers" in inventory.defaults.model_fields_set:
        return inventory.defaults.workers
    return STATUS_WORKERS
