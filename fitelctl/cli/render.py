"""Human output: rich tables and progress on stderr (colours off when not a TTY)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fitelctl.ops.status import SiteStatus

STATE_STYLE = {"up": "green", "degraded": "yellow", "down": "red", "unknown": "magenta"}
RESULT_STYLE = {
    "applied": "green",
    "unchanged": "green",
    "dry_run": "cyan",
    "rolled_back": "yellow",
    "failed": "red",
}

stdout = Console(highlight=False)
if not stdout.is_terminal:
    # Piped output (logs, monitoring): keep one row per SA instead of folding at 80 columns.
    stdout = Console(highlight=False, width=200)
stderr = Console(stderr=True, highlight=False)


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
            f"v{result.cloud['vpc_router_version']} {result.cloud['peer_status'] or '-'}"
            if result.cloud
            else "-"
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
    stdout.print(table)


class SiteProgress:
    """A progress bar on stderr while sites finish (``progress.site_progress`` picks it)."""

    def __init__(self, description: str, *, total: int) -> None:
        self._progress = Progress(console=stderr, transient=True)
        self._description = description
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> SiteProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def advance(self, site: str) -> None:
        """One more site done; the bar names the latest, so a stuck run shows who answered."""
        self._progress.update(
            self._task, advance=1, description=f"{self._description} (last: {site})"
        )
