"""Human output: the status table, and the colours of states and results (off when not a TTY)."""

from __future__ import annotations

from rich.table import Table

from fitelctl.cli.console import console
from fitelctl.ops.status import SiteStatus

STATE_STYLE = {"up": "green", "degraded": "yellow", "down": "red", "unknown": "magenta"}
RESULT_STYLE = {
    "applied": "green",
    "unchanged": "green",
    "dry_run": "cyan",
    "rolled_back": "yellow",
    "failed": "red",
}


def print_status_table(results: list[SiteStatus]) -> None:
    table = Table(title=None, show_lines=False)
    for column in (
        "site",
        "state",
        "device",
        "cloud",
        "peer",
        "encryption",
        "auth",
        "PFS",
        "life left",
        "pkts in/out",
        "errors",
        "problems",
    ):
        table.add_column(column, no_wrap=column != "problems", overflow="fold")
    for result in results:
        state = f"[{STATE_STYLE[result.state]}]{result.state}[/]"
        cloud = (
            f"v{result.cloud.version} {result.cloud.peer_status or '-'}" if result.cloud else "-"
        )
        device = " ".join(filter(None, (result.device.model, result.device.firmware))) or "-"
        problems = "; ".join([*result.problems, *(f"warning: {w}" for w in result.device.warnings)])
        sas = result.device.ipsec_sas
        if not sas:
            table.add_row(result.site, state, device, cloud, *([""] * 7), problems)
        for index, sa in enumerate(sas):
            table.add_row(
                result.site if index == 0 else "",
                state if index == 0 else "",
                device if index == 0 else "",
                cloud if index == 0 else "",
                sa.peer_ip,
                sa.encryption,
                sa.authentication,
                f"group {sa.pfs_group}" if sa.pfs_group else "off",
                f"{sa.lifetime_remaining}/{sa.lifetime_total}s",
                f"{sa.in_packets}/{sa.out_packets}",
                str(sa.in_errors),
                problems if index == 0 else "",
            )
    console().print(table)
