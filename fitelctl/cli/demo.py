"""``fitelctl demo``: the main job end to end on a temporary lab.

What exists so far: start the lab in the article's after-migration state
(``seed-v2-pending``: the VPC router moved to version 2, the F220 still runs
the version-1 config), read both the article's old state and the pending
state with ``status``, and parse the device's `show crypto sa`.  Apply and
reconnect join this sequence when they land.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from fitelctl.cli import context


def demo() -> None:
    """Run the lab and fitelctl against it: lab up, status, parse (no hardware needed)."""
    from fitelctl.cli.render import print_status_table
    from fitelctl.cli.render import stdout as out
    from fitelctl.inventory import load_inventory
    from fitelctl.lab.runner import BackgroundLab, LabOptions
    from fitelctl.ops.connect import connect_site
    from fitelctl.ops.status import collect_status
    from fitelctl.parsing import parse_crypto_sa

    expectations = {"seed-v1": "up", "seed-v2-pending": "down"}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fitelctl-demo-") as tmp:
        for scenario, expected in expectations.items():
            state_dir = Path(tmp) / scenario
            state_dir.mkdir()
            out.rule(f"lab up --scenario {scenario}")
            with BackgroundLab(LabOptions(state_dir=state_dir, scenario=scenario)):
                inventory = load_inventory(state_dir / "inventory.yaml")
                out.print(f"[bold]$ fitelctl -i {state_dir}/inventory.yaml status[/]")
                results = collect_status(inventory, ["tokyo"], workers=1)
                print_status_table(results)
                if results[0].state != expected:
                    failures.append(f"{scenario}: status {results[0].state}, expected {expected}")
                out.print('[bold]$ fitelctl parse "show crypto sa" (live output)[/]')
                with connect_site(inventory, "tokyo") as device:
                    table = parse_crypto_sa(device.show("show crypto sa"))
                out.print(
                    f"  {table.ipsec_sa_count} IPsec SA(s): "
                    + (
                        ", ".join(
                            f"{sa.encryption} {sa.authentication} PFS group {sa.pfs_group}"
                            for sa in table.ipsec_sas
                        )
                        or "none"
                    )
                    + "  (key material parsed, never printed)"
                )
    if failures:
        context.fail("demo: " + "; ".join(failures), 1)
    out.print(
        "[green]demo ok[/]: the v1 tunnel is up; after the cloud-side migration it is down "
        "until the F220 gets the version-2 parameters (fitelctl apply, coming next)."
    )
    raise typer.Exit(0)
