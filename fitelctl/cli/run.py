"""``fitelctl playbooks`` and ``fitelctl run``: the on-call runbooks."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import JsonOption, YesOption, dry_run_option, emit_json, timeout_option

#: ``run``'s default deadline, seconds: the longest shipped runbook
#: (migrate-vpc-router-v2) may wait 600 s for the migration, then verify (60 s) and
#: reconnect (60 s); one hour covers that with room for slow power transitions.
#: Recovery gets the same time again, so a run ends within twice --timeout.
RUN_TIMEOUT = 3600.0


def playbooks(
    as_json: JsonOption = False,
) -> None:
    """List the runbooks (./playbooks/ first, then the shipped ones) with their descriptions."""
    from fitelctl.runbook.library import available, load
    from fitelctl.runbook.steps import OPERATIONS

    entries = []
    for name in sorted(available()):
        runbook = load(name, OPERATIONS)
        entries.append(
            {
                "name": runbook.name,
                "description": runbook.description,
                "path": str(runbook.path),
                "parameters": {
                    p.name: {"default": p.default, "help": p.help, "required": p.required}
                    for p in runbook.parameters.values()
                },
            }
        )
    if as_json:
        emit_json({"playbooks": entries})
        return
    for entry in entries:
        print(f"{entry['name']:<24} {entry['description']}")


def run(
    playbook: Annotated[
        str, typer.Argument(help="Runbook name (see `fitelctl playbooks`) or file.")
    ],
    site: Annotated[str, typer.Option("--site", help="The site the runbook acts on.")],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Runbook parameter NAME=VALUE (repeatable)."),
    ] = None,
    dry_run: Annotated[
        bool, dry_run_option("Show the exact steps and arguments; run nothing.")
    ] = False,
    yes: YesOption = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Go on from the step that failed in the last run (same site)."
        ),
    ] = False,
    timeout: Annotated[
        float,
        timeout_option(
            "Deadline for the steps, waits and retries included; a step that fails "
            "(out of time or not) still gets its recovery, with the same time again."
        ),
    ] = RUN_TIMEOUT,
) -> None:
    """Run an on-call runbook step by step, with progress, a run record and recovery.

    The run record (JSON lines, secrets redacted) is written under runs/ next to the
    inventory. When a step fails, its recovery steps run; then the state of both sides
    is shown and recorded. Exit 0 when every step succeeded.
    """
    from fitelctl.cli.console import console
    from fitelctl.deadline import command_deadline
    from fitelctl.runbook.engine import RunError, RunOptions, run_runbook
    from fitelctl.runbook.library import load
    from fitelctl.runbook.steps import OPERATIONS, StepContext

    stderr = console(stderr=True)
    if dry_run and resume:
        raise typer.BadParameter("--dry-run and --resume do not go together")
    runbook = load(playbook, OPERATIONS)
    inventory = context.inventory()
    inventory.site(site)
    variables = {}
    for item in var or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise RunError(f"--var {item}: expected NAME=VALUE")
        variables[name] = value

    def confirm(question: str) -> bool:
        if yes:
            stderr.print(f"  {question} yes (--yes)", markup=False)
            return True
        if not sys.stdin.isatty():
            stderr.print(
                f"  {question} needs an answer: run in a terminal or pass --yes", markup=False
            )
            return False
        return typer.confirm(question, default=False, err=True)

    options = RunOptions(
        site=site,
        variables=variables,
        dry_run=dry_run,
        resume=resume,
        confirm=confirm,
        progress=lambda line: stderr.print(line, markup=False, highlight=False, soft_wrap=True),
    )
    ctx = StepContext(inventory, site, inventory.path(inventory.defaults.backup_dir))
    with command_deadline(timeout):
        result = run_runbook(ctx, runbook, options)
    if dry_run:
        print(f"{runbook.name} for {site} (dry run: nothing is run)")
        for number, line in enumerate(result.lines, start=1):
            print(f"  {number}. {line}")
        return
    verdict = "done" if result.ok else f"FAILED at step '{result.failed_step}'"
    print(f"{runbook.name} {site}: {verdict}; record: {result.record}")
    if not result.ok:
        print(f"resume with: fitelctl run {playbook} --site {site} --resume")
    raise typer.Exit(0 if result.ok else 1)
