"""``fitelctl exporter``: serve Prometheus metrics of every site from persistent sessions."""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import AllSitesOption, DriverOption, TrustNewHostKeyOption
from fitelctl.errors import FitelctlError

if TYPE_CHECKING:
    from fitelctl.inventory import Inventory

#: Sessions one exporter may hold with the scrapli driver.  libscrapli 0.0.6 keeps about
#: five file descriptors per session; with 250 and more sessions in one process the
#: exporter died with SIGSEGV ("NULL pointer access" in libscrapli's log callback just
#: before), measured on the lab with benchmarks/g_exporter.py; 200 ran.
SCRAPLI_MAX_SESSIONS = 200
#: ``--interval``'s default, seconds: one poll per device and per VPC router per interval.
DEFAULT_INTERVAL = 30.0
#: ``--keepalive``'s default, seconds (``status``, ``apply`` and the rest send none).
DEFAULT_KEEPALIVE = 30.0


def exporter(
    sites: Annotated[list[str] | None, typer.Argument(help="Sites to poll (default: all).")] = None,
    all_sites: AllSitesOption = False,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to serve /metrics and /probe on.")
    ] = "127.0.0.1:9817",
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.5, help="Seconds between two polls of a device."),
    ] = DEFAULT_INTERVAL,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="K/N: poll only share K of N of the inventory (a VPC router's sites stay "
            "together); run N exporters with 1/N .. N/N.",
        ),
    ] = None,
    max_idle: Annotated[
        float | None,
        typer.Option(
            "--max-idle",
            min=1.0,
            help="Log out of a session unused this long and log in again at the next poll "
            "(for devices that end idle sessions sooner than --interval). "
            "Default: keep sessions open.",
        ),
    ] = None,
    keepalive: Annotated[
        float,
        typer.Option(
            "--keepalive",
            min=0.0,
            help="Seconds between SSH keepalives on an idle session (0: none), asyncssh "
            "and netmiko drivers. With scrapli it has no effect: libscrapli always has "
            "OpenSSH send keepalives every connect timeout.",
        ),
    ] = DEFAULT_KEEPALIVE,
    backoff_max: Annotated[
        float,
        typer.Option("--backoff-max", min=1.0, help="Longest wait between two login attempts."),
    ] = 60.0,
    driver: DriverOption = None,
    trust_new_host_key: TrustNewHostKeyOption = False,
) -> None:
    """Serve Prometheus metrics: /metrics for every site, /probe?site=NAME for one.

    One SSH session per device stays open across polls (reconnected with back-off
    and jitter when it drops) and one API client per zone.  Stops on SIGINT or SIGTERM,
    logging out of every device.
    """
    from fitelctl.exporter.fleet import Fleet
    from fitelctl.exporter.server import ExporterServer
    from fitelctl.exporter.sessions import SessionPolicy
    from fitelctl.exporter.shard import parse_shard, shard_sites
    from fitelctl.ops.connect import ConnectOptions

    if all_sites and sites:
        raise typer.BadParameter("name sites or use --all, not both")
    inventory = context.inventory()
    names = inventory.select(sites or [])
    if shard is not None:
        k, n = parse_shard(shard)
        names = shard_sites(inventory, names, k, n)
    _refuse_too_many_scrapli_sessions(inventory, names, driver.value if driver else None)
    fleet = Fleet(
        inventory,
        names,
        interval,
        options=ConnectOptions(
            driver=driver.value if driver else None,
            trust_new_host_key=trust_new_host_key,
            keepalive=keepalive,
        ),
        policy=SessionPolicy(backoff_max=backoff_max, max_idle=max_idle),
    )
    server = ExporterServer(fleet, listen)  # binds now: a taken port fails before any login
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    fleet.start()
    server.start()
    served = f"{listen.rpartition(':')[0]}:{server.port}"  # the port bound, when :0 was asked
    print(
        f"fitelctl exporter: serving http://{served}/metrics, polling {len(names)} site(s) "
        f"every {interval:g}s" + (f" (shard {shard})" if shard else ""),
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    server.stop()
    busy = fleet.stop()
    if busy:
        print(
            "fitelctl exporter: still busy at stop, sessions left to the device to end: "
            + ", ".join(busy),
            file=sys.stderr,
        )
    print("fitelctl exporter: stopped, every session logged out", file=sys.stderr)


def _refuse_too_many_scrapli_sessions(
    inventory: Inventory, names: list[str], driver: str | None
) -> None:
    """A clear refusal instead of a crash: see ``SCRAPLI_MAX_SESSIONS``."""
    kinds = [driver or inventory.site(s).device.driver or inventory.defaults.driver for s in names]
    count = kinds.count("scrapli")
    if count > SCRAPLI_MAX_SESSIONS:
        raise FitelctlError(
            f"the exporter would hold {count} scrapli sessions; libscrapli crashes the process "
            f"beyond about {SCRAPLI_MAX_SESSIONS} (measured): use the asyncssh driver "
            "(--driver asyncssh), or split the fleet with --shard K/N"
        )
