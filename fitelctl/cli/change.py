"""``diff`` and ``apply``: look at a change, then make it safely."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import (
    AllSitesOption,
    ForceOption,
    JsonOption,
    TrustNewHostKeyOption,
    YesOption,
    deadline_help,
    dry_run_option,
    emit_json,
    timeout_option,
    workers_option,
)

if TYPE_CHECKING:
    from fitelctl.ops.apply import Plan, SiteOutcome

#: ``apply``'s default deadline, seconds.  One site needs a minute or two at worst
#: (sessions, the re-apply, and the wait for the tunnel: defaults.verify_timeout, 60 s);
#: a fleet goes in waves of --workers sites, so 15 min covers about ten waves (160
#: sites at the default 16 workers) and fits a maintenance window.  Sites not started
#: when it runs out are left unchanged; a change it cuts short is rolled back, with the
#: same time again for the rollback.  The time spent answering the confirmation does
#: not count.
APPLY_TIMEOUT = 900.0
#: ``diff``'s default deadline, seconds: one SSH session reading two files.
DIFF_TIMEOUT = 60.0


def diff(
    site: Annotated[str, typer.Argument(help="Site to compare.")],
    force: ForceOption = False,
    trust_new_host_key: TrustNewHostKeyOption = False,
    timeout: Annotated[float, timeout_option(deadline_help(DIFF_TIMEOUT))] = DIFF_TIMEOUT,
) -> None:
    """Print the commands that bring SITE's managed config sections to the generated state.

    Reads current.cfg over SSH; changes nothing. Lines outside the managed sections
    (the tunnel's policies, selector, profile, map, tunnel interface and its routes)
    are never touched. The PSK is shown masked. Exit 0 when nothing differs, 1 when
    there is something to apply.
    """
    from fitelctl.deadline import command_deadline
    from fitelctl.ops.apply import ApplyOptions, plan_site
    from fitelctl.ops.connect import ConnectOptions

    with command_deadline(timeout):
        inventory = context.inventory()
        options = ApplyOptions(ConnectOptions(trust_new_host_key=trust_new_host_key), force=force)
        plan = plan_site(inventory, inventory.select([site])[0], options)
    if plan.outcome.result == "failed":
        context.fail("; ".join(plan.outcome.problems))
    for line in plan.outcome.diff:
        print(line)
    raise typer.Exit(1 if plan.commands else 0)


def apply(
    sites: Annotated[list[str] | None, typer.Argument(help="Sites to apply.")] = None,
    all_sites: AllSitesOption = False,
    dry_run: Annotated[bool, dry_run_option("Check and show the diff; change nothing.")] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    force: ForceOption = False,
    workers: Annotated[int | None, workers_option("Sites changed at once.")] = None,
    verify_timeout: Annotated[
        float | None,
        typer.Option("--verify-timeout", min=1, help="Seconds to wait for the tunnel."),
    ] = None,
    trust_new_host_key: TrustNewHostKeyOption = False,
    timeout: Annotated[float, timeout_option(deadline_help(APPLY_TIMEOUT))] = APPLY_TIMEOUT,
) -> None:
    """Configure, commit, verify the tunnel, then save; roll back when it does not come up.

    For each site: check (refuses on errors unless --force); read current.cfg and
    diff; show the diff and ask (unless --yes); back current.cfg up on disk; send the
    diff, end, commit (refresh on models without commit); clear the SAs and wait
    for the tunnel with the expected algorithms; only then save. If a line is
    rejected, the commit fails, the session drops or the tunnel does not come up,
    working and current are put back to the backup and nothing is saved.
    Exit 0 when every site ends applied or unchanged.
    """
    from fitelctl.cli.progress import site_progress
    from fitelctl.deadline import command_deadline
    from fitelctl.ops.apply import ApplyOptions, execute_plan, not_confirmed, plan_site
    from fitelctl.ops.connect import ConnectOptions
    from fitelctl.ops.pool import for_each_site

    inventory = context.inventory()
    if all_sites and sites:
        raise typer.BadParameter("name sites or use --all, not both")
    if not all_sites and not sites:
        raise typer.BadParameter("name the sites to apply, or use --all")
    names = inventory.select(sites or [])
    options = ApplyOptions(
        ConnectOptions(trust_new_host_key=trust_new_host_key),
        force=force,
        verify_timeout=verify_timeout,
    )
    pool = workers or inventory.defaults.workers
    with (
        command_deadline(timeout) as deadline,
        site_progress("checking and diffing", total=len(names), enabled=not as_json) as progress,
    ):
        plans = for_each_site(
            names,
            lambda site: plan_site(inventory, site, options),
            workers=pool,
            on_done=lambda plan: progress.advance(plan.site),
        )
        left = deadline.remaining()  # the deadline pauses while the operator confirms
    todo = [plan for plan in plans if plan.ready]
    if not as_json:
        _show_plans(plans)
    if todo and not dry_run and not yes and not _confirm(len(todo), as_json):
        for plan in todo:
            not_confirmed(plan)
        todo = []
    if todo and not dry_run:
        with (
            command_deadline(timeout, left=left),
            site_progress("applying", total=len(todo), enabled=not as_json) as progress,
        ):
            for_each_site(
                [plan.site for plan in todo],
                lambda site: execute_plan(inventory, _plan_for(todo, site), options),
                workers=pool,
                on_done=lambda outcome: progress.advance(outcome.site),
            )
    outcomes = [plan.outcome for plan in plans]
    if as_json:
        emit_json({"sites": [o.to_json() for o in outcomes]})
    else:
        _show_outcomes(outcomes)
    ok = all(o.result in ("applied", "unchanged", "dry_run") for o in outcomes)
    raise typer.Exit(0 if ok else 1)


def _plan_for(plans: list[Plan], site: str) -> Plan:
    return next(plan for plan in plans if plan.site == site)


def _show_plans(plans: list[Plan]) -> None:
    from fitelctl.cli.console import console

    stdout = console()
    for plan in plans:
        if plan.commands:
            stdout.print(f"[bold]{plan.site}[/]: {len(plan.commands)} command(s)")
            for line in plan.outcome.diff:
                stdout.print(f"  {line}", markup=False)


def _confirm(count: int, as_json: bool) -> bool:
    if as_json or not sys.stdin.isatty():
        context.fail(
            "apply needs confirmation: run it in a terminal, or pass --yes "
            "(use --dry-run to only look)",
            1,
        )
    return typer.confirm(f"Apply to {count} site(s)?", default=False, err=True)


def _show_outcomes(outcomes: list[SiteOutcome]) -> None:
    from fitelctl.cli.console import console
    from fitelctl.cli.tables import RESULT_STYLE

    stdout = console()
    for outcome in outcomes:
        style = RESULT_STYLE.get(outcome.result, "")
        saved = " (saved)" if outcome.saved else ""
        stdout.print(f"[{style}]{outcome.result}[/]{saved}  {outcome.site}")
        for problem in outcome.problems:
            stdout.print(f"    {problem}", markup=False)
