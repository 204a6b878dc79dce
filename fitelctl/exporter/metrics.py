"""The metric families, built at scrape time from the fleet's latest polls.

Every site metric carries ``site``, ``peer`` (the VPC router's global address the
device peers with) and ``vpc_router`` (its appliance ID, "" when the inventory names
none).  The verdict is ``ops/status.judge``'s, the same as ``fitelctl status``.

SA counters (packets, bytes, errors) are the device's own, and they start again at 0
with every new SA.  Each series is therefore labelled with the SA's inbound ``spi``:
a rekey starts new series instead of a counter going backwards, which is what
``rate()``/``increase()`` expect; the old series ends when the SA is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from fitelctl import __version__
from fitelctl.exporter.fleet import Fleet, RouterKey
from fitelctl.ops.cloud import CloudView, RouterRead
from fitelctl.ops.status import DeviceStatus, judge

SITE_LABELS = ["site", "peer", "vpc_router"]
SA_LABELS = [*SITE_LABELS, "interface", "spi"]
ROUTER_LABELS = ["vpc_router", "zone"]
STATES = ("up", "degraded", "down", "unknown")
ERROR_KINDS = ("replay", "auth", "padding", "rule")


class SiteFamilies:
    """The empty families of the site metrics, filled one site at a time."""

    def __init__(self) -> None:
        g, c = GaugeMetricFamily, CounterMetricFamily
        self.state = g(
            "fitelctl_site_state",
            "The site's verdict as fitelctl status gives it: 1 for the current state.",
            labels=[*SITE_LABELS, "state"],
        )
        self.tunnel_up = g(
            "fitelctl_tunnel_up",
            "1 when the verdict is up or degraded, 0 when down; absent when unknown.",
            labels=SITE_LABELS,
        )
        self.device_tunnel_up = g(
            "fitelctl_device_tunnel_up",
            "1 when the device shows an IPsec SA with the peer on the tunnel interface.",
            labels=SITE_LABELS,
        )
        self.cloud_peer_up = g(
            "fitelctl_cloud_peer_up",
            "1 when the VPC router reports this site's peer UP, 0 otherwise.",
            labels=SITE_LABELS,
        )
        self.device_up = g(
            "fitelctl_device_up",
            "1 when the last poll read the device's SAs, 0 when it could not.",
            labels=SITE_LABELS,
        )
        self.device_info = InfoMetricFamily(
            "fitelctl_device", "The device's model and firmware.", labels=SITE_LABELS
        )
        self.remaining = g(
            "fitelctl_ipsec_sa_lifetime_remaining_seconds",
            "Seconds the IPsec SA has left.",
            labels=SA_LABELS,
        )
        self.lifetime = g(
            "fitelctl_ipsec_sa_lifetime_seconds", "The IPsec SA's lifetime.", labels=SA_LABELS
        )
        self.packets = c(
            "fitelctl_ipsec_sa_packets",
            "Packets through the IPsec SA (the device's counter; new SPI, new series).",
            labels=[*SA_LABELS, "direction"],
        )
        self.bytes = c(
            "fitelctl_ipsec_sa_bytes",
            "Octets through the IPsec SA (the device's counter; new SPI, new series).",
            labels=[*SA_LABELS, "direction"],
        )
        self.errors = c(
            "fitelctl_ipsec_sa_errors",
            "Inbound errors of the IPsec SA by kind: replay, auth, padding, rule.",
            labels=[*SA_LABELS, "kind"],
        )
        self.sa_info = InfoMetricFamily(
            "fitelctl_ipsec_sa",
            "The IPsec SA's algorithms and PFS group (none without PFS).",
            labels=SA_LABELS,
        )
        self.last_success = g(
            "fitelctl_last_poll_success_timestamp_seconds",
            "Unix time of the last poll that read the device.",
            labels=SITE_LABELS,
        )
        self.duration = g(
            "fitelctl_poll_duration_seconds",
            "How long the last poll of the device took.",
            labels=SITE_LABELS,
        )
        self.poll_errors = c(
            "fitelctl_poll_errors",
            "Polls of the device that failed (login, read or parse).",
            labels=SITE_LABELS,
        )
        self.logins = c(
            "fitelctl_device_logins",
            "SSH logins the exporter made to the device (one per session, not per poll).",
            labels=SITE_LABELS,
        )

    def __iter__(self) -> Iterator[Metric]:
        return iter(vars(self).values())


def site_metrics(fleet: Fleet, site: str, families: SiteFamilies) -> None:
    """Add ``site``'s samples to ``families``."""
    inventory = fleet.inventory
    config = inventory.site(site)
    key = fleet.router_of(site)
    labels = [site, config.cloud.global_address, str(key[1]) if key else ""]
    polls = fleet.state[site]
    session = fleet.sessions[site]
    families.logins.add_metric(labels, session.logins)
    families.poll_errors.add_metric(labels, polls.errors)
    if polls.last_success is not None:
        families.last_success.add_metric(labels, polls.last_success)
    read = polls.device
    router = fleet.router_polls.get(key) if key else None
    cloud: RouterRead | str | None = router.read if router else None
    if key is not None and router is None:
        cloud = "cloud side: the VPC router has not been read yet"
    if read is None:
        verdict = judge(inventory, site, DeviceStatus(reachable=False), "not polled yet", cloud)
    else:
        families.duration.add_metric(labels, read.duration)
        families.device_up.add_metric(labels, 0 if read.problem else 1)
        verdict = judge(inventory, site, read.status, read.problem, cloud)
    for state in STATES:
        families.state.add_metric([*labels, state], 1 if verdict.state == state else 0)
    if verdict.state != "unknown":
        families.tunnel_up.add_metric(labels, 1 if verdict.state != "down" else 0)
    if verdict.cloud is not None:
        families.cloud_peer_up.add_metric(labels, 1 if verdict.cloud.peer_up else 0)
    if read is None or read.table is None:
        return
    device = read.status
    if device.model or device.firmware:
        info = {"model": device.model or "", "firmware": device.firmware or ""}
        families.device_info.add_metric(labels, info)
    peer, interface = config.cloud.global_address, config.tunnel.label
    ours = [sa for sa in read.table.ipsec_sas if sa.peer_ip == peer and sa.interface == interface]
    families.device_tunnel_up.add_metric(labels, 1 if ours else 0)
    for sa in ours:
        sa_labels = [*labels, sa.interface, sa.in_spi]
        families.remaining.add_metric(sa_labels, sa.lifetime_remaining)
        families.lifetime.add_metric(sa_labels, sa.lifetime_total)
        families.packets.add_metric([*sa_labels, "in"], sa.in_packets)
        families.packets.add_metric([*sa_labels, "out"], sa.out_packets)
        families.bytes.add_metric([*sa_labels, "in"], sa.in_octets)
        families.bytes.add_metric([*sa_labels, "out"], sa.out_octets)
        for kind, count in zip(
            ERROR_KINDS,
            (sa.in_replay_errors, sa.in_auth_errors, sa.in_padding_errors, sa.in_rule_errors),
            strict=True,
        ):
            families.errors.add_metric([*sa_labels, kind], count)
        pfs = str(sa.pfs_group) if sa.pfs and sa.pfs_group is not None else "none"
        info = {"encryption": sa.encryption, "authentication": sa.authentication, "pfs_group": pfs}
        families.sa_info.add_metric(sa_labels, info)


def router_metrics(fleet: Fleet, keys: Iterable[RouterKey]) -> list[Metric]:
    up = GaugeMetricFamily(
        "fitelctl_vpc_router_up",
        "1 when the VPC router is powered on and available (serving VPNs).",
        labels=ROUTER_LABELS,
    )
    read_ok = GaugeMetricFamily(
        "fitelctl_vpc_router_read_up",
        "1 when the last API read of the VPC router succeeded.",
        labels=ROUTER_LABELS,
    )
    info = InfoMetricFamily(
        "fitelctl_vpc_router",
        "The VPC router's version, availability and instance status.",
        labels=ROUTER_LABELS,
    )
    errors = CounterMetricFamily(
        "fitelctl_vpc_router_read_errors",
        "API reads of the VPC router that failed.",
        labels=ROUTER_LABELS,
    )
    duration = GaugeMetricFamily(
        "fitelctl_vpc_router_read_duration_seconds",
        "How long the last API read of the VPC router took.",
        labels=ROUTER_LABELS,
    )
    for key in keys:
        labels = [str(key[1]), key[0] or ""]
        poll = fleet.router_polls.get(key)
        if poll is None:
            continue
        errors.add_metric(labels, poll.errors)
        duration.add_metric(labels, poll.duration)
        read_ok.add_metric(labels, 0 if isinstance(poll.read, str) else 1)
        if isinstance(poll.read, RouterRead):
            view = CloudView.of(poll.read.appliance)
            up.add_metric(labels, 1 if view.is_running else 0)
            info.add_metric(
                labels,
                {
                    "version": str(view.version or ""),
                    "availability": view.availability,
                    "instance_status": view.instance_status or "",
                },
            )
    return [up, read_ok, info, errors, duration]


def exporter_metrics(fleet: Fleet, started: float) -> list[Metric]:
    """The exporter's own health."""
    build = InfoMetricFamily("fitelctl_exporter_build", "The fitelctl version.")
    build.add_metric([], {"version": __version__})
    sites = GaugeMetricFamily("fitelctl_exporter_sites", "Sites this exporter polls.")
    sites.add_metric([], len(fleet.sites))
    sessions = GaugeMetricFamily(
        "fitelctl_exporter_sessions_open", "Device SSH sessions the exporter holds open."
    )
    sessions.add_metric([], sum(1 for s in fleet.sessions.values() if s.is_open))
    uptime = GaugeMetricFamily(
        "fitelctl_exporter_start_time_seconds", "Unix time the exporter started."
    )
    uptime.add_metric([], started)
    interval = GaugeMetricFamily(
        "fitelctl_exporter_poll_interval_seconds", "The poll interval (--interval)."
    )
    interval.add_metric([], fleet.interval)
    return [build, sites, sessions, uptime, interval]


def collect(fleet: Fleet, sites: list[str], *, started: float | None = None) -> list[Metric]:
    """The families for ``sites`` (all of them and the exporter's health for /metrics)."""
    families = SiteFamilies()
    for site in sites:
        site_metrics(fleet, site, families)
    keys = list(dict.fromkeys(k for k in (fleet.router_of(s) for s in sites) if k is not None))
    found = [*families, *router_metrics(fleet, keys)]
    if started is not None:
        found.extend(exporter_metrics(fleet, started))
    return found
