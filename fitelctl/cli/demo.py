"""``fitelctl demo``: the main job end to end on a temporary lab.

The lab starts in the source article's after-migration state
(docs/domain.md#incidents-in-the-article; scenario ``seed-v2-pending``:
the VPC router moved to version 2, the F220 still runs the version-1 config, so
the tunnel is down).  Then, as an engineer would: status, check, diff, apply
(configure, commit, reconnect from the cloud side, verify, save), status,
reconnect, status.  Each step is the real command, run in this process on the
lab's inventory, so the demo prints exactly what the command prints.  Exit 0
when the tunnel ends up with the version-2 algorithms.

With ``--ike strongswan`` the lab's tunnels are negotiated by real charons (root and
strongSwan needed), and the demo also prints the router's real log (``fitelctl logs``)
after the failed negotiation and after the successful one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.lab import IKE_HELP, IkeChoice

EXPECTED = ("AES-CBC/256", "HMAC-SHA2-256-128/256", 14)
STEPS = (
    ["status"],
    ["check", "tokyo"],
    ["diff", "tokyo"],
    ["apply", "tokyo", "--yes"],
    ["status"],
    ["reconnect", "tokyo"],
    ["status"],
)


#: with real IKE: the router's own log after the failure and after the success
ROUTER_LOG = ["logs", "tokyo", "-n", "12"]
STRONGSWAN_STEPS = (*STEPS[:1], ROUTER_LOG, *STEPS[1:5], ROUTER_LOG, *STEPS[5:])


def demo(
    ike: Annotated[IkeChoice, typer.Option("--ike", help=IKE_HELP)] = IkeChoice.model,
) -> None:
    """Run the main job on a temporary lab: status, check, diff, apply, status, reconnect."""
    from fitelctl.cli.console import console
    from fitelctl.inventory import load_inventory
    from fitelctl.lab.runner import BackgroundLab, LabOptions
    from fitelctl.ops.status import collect_status

    out = console()
    with tempfile.TemporaryDirectory(prefix="fitelctl-demo-") as tmp:
        state_dir = Path(tmp)
        real = ike is IkeChoice.strongswan
        out.rule(
            "fitelctl lab up --scenario seed-v2-pending" + (" --ike strongswan" if real else "")
        )
        options = LabOptions(state_dir=state_dir, scenario="seed-v2-pending", ike=ike.value)
        with BackgroundLab(options):
            inventory_file = state_dir / "inventory.yaml"
            out.print(
                "The VPC router was migrated to version 2 (aes256/sha256/modp2048); "
                "the F220 still runs the article's version-1 config."
            )
            codes = {}
            for step in STRONGSWAN_STEPS if real else STEPS:
                out.print(f"\n[bold]$ fitelctl {' '.join(step)}[/]")
                codes[step[0]] = _run_command(inventory_file, step)
            final = collect_status(load_inventory(inventory_file), ["tokyo"], workers=1)
    sas = final[0].device.ipsec_sas
    got = [(sa.encryption, sa.authentication, sa.pfs_group) for sa in sas]
    if final[0].state != "up" or EXPECTED not in got or codes["reconnect"] != 0:
        context.fail(f"demo: the tunnel did not end up with {' / '.join(map(str, EXPECTED))}", 1)
    out.print(
        "\n[green]demo ok[/]: the tunnel is back up with AES-CBC/256, HMAC-SHA2-256, "
        "PFS group 14 (the article's version-2 set)."
    )
    raise typer.Exit(0)


def _run_command(inventory_file: Path, args: list[str]) -> int:
    """Run ``fitelctl -i INVENTORY ARGS`` here, as the command line would; its exit code."""
    from fitelctl.cli import app

    debug = ["--debug"] if context.STATE.debug else []
    code = app(["-i", str(inventory_file), *debug, *args], standalone_mode=False)
    return code if isinstance(code, int) else 0
