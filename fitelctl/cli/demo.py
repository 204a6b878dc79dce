"""``fitelctl demo``: the main job end to end on a temporary lab.

The lab starts in the article's after-migration state (``seed-v2-pending``:
the VPC router moved to version 2, the F220 still runs the version-1 config, so
the tunnel is down).  Then, as an engineer would: status, check, diff, apply
(configure, commit, reconnect from the cloud side, verify, save), status,
reconnect, status.  Exit 0 when the tunnel ends up with the version-2
algorithms.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from fitelctl.cli import context

EXPECTED = ("AES-CBC/256", "HMAC-SHA2-256-128/256", 14)


def demo() -> None:
    """Run the main job on a temporary lab: status, check, diff, apply, status, reconnect."""
    from fitelctl.cli.render import RESULT_STYLE, print_status_table
    from fitelctl.cli.render import stdout as out
    from fitelctl.inventory import load_inventory
    from fitelctl.lab.runner import BackgroundLab, LabOptions
    from fitelctl.ops.apply import ApplyOptions, execute_plan, plan_site
    from fitelctl.ops.check import check_site
    from fitelctl.ops.reconnect import reconnect_site
    from fitelctl.ops.status import collect_status

    with tempfile.TemporaryDirectory(prefix="fitelctl-demo-") as tmp:
        state_dir = Path(tmp)
        out.rule("fitelctl lab up --scenario seed-v2-pending")
        with BackgroundLab(LabOptions(state_dir=state_dir, scenario="seed-v2-pending")):
            inventory = load_inventory(state_dir / "inventory.yaml")
            out.print(
                "The VPC router was migrated to version 2 (aes256/sha256/modp2048); "
                "the F220 still runs the article's version-1 config."
            )

            out.print("\n[bold]$ fitelctl status[/]")
            print_status_table(collect_status(inventory, ["tokyo"], workers=1))

            out.print("\n[bold]$ fitelctl check tokyo[/]")
            for finding in check_site(inventory, "tokyo") or []:
                out.print(f"  {finding.severity}: {finding.rule}: {finding.message}", markup=False)

            out.print("\n[bold]$ fitelctl diff tokyo[/]")
            options = ApplyOptions()
            plan = plan_site(inventory, "tokyo", options)
            for line in plan.outcome.diff:
                out.print(f"  {line}", markup=False)

            out.print("\n[bold]$ fitelctl apply tokyo --yes[/]")
            outcome = execute_plan(inventory, plan, options) if plan.ready else plan.outcome
            style = RESULT_STYLE.get(outcome.result, "")
            saved = " (saved)" if outcome.saved else ""
            out.print(f"  [{style}]{outcome.result}[/]{saved}")
            for problem in outcome.problems:
                out.print(f"    {problem}", markup=False)

            out.print("\n[bold]$ fitelctl status[/]")
            print_status_table(collect_status(inventory, ["tokyo"], workers=1))

            out.print("\n[bold]$ fitelctl reconnect tokyo[/]")
            again = reconnect_site(inventory, "tokyo")
            out.print(f"  {again.result} (side: {again.side})")
            if again.before and again.after:
                out.print(f"  SPI {again.before.in_spi} -> {again.after.in_spi}")
            for problem in again.problems:
                out.print(f"    {problem}", markup=False)

            out.print("\n[bold]$ fitelctl status[/]")
            final = collect_status(inventory, ["tokyo"], workers=1)
            print_status_table(final)
    sas = final[0].device.ipsec_sas
    got = [(sa.encryption, sa.authentication, sa.pfs_group) for sa in sas]
    if final[0].state != "up" or EXPECTED not in got or again.result != "reconnected":
        context.fail(f"demo: the tunnel did not end up with {' / '.join(map(str, EXPECTED))}", 1)
    out.print(
        "\n[green]demo ok[/]: the tunnel is back up with AES-CBC/256, HMAC-SHA2-256, "
        "PFS group 14 (the article's version-2 set)."
    )
    raise typer.Exit(0)
