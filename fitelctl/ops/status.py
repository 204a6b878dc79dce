"""``status``: each site's tunnel health from the device's SAs, one verdict per site.

Sites are queried concurrently with a bounded pool; a site that is slow or
unreachable costs only its own timeout.  Results are reported to ``on_result``
as they finish, and returned in inventory order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.ops.connect import ConnectOptions, connect_site
from fitelctl.ops.pool import for_each_site
from fitelctl.parsing import IpsecSa, parse_crypto_sa
from fitelctl.redact import SECRETS

State = Literal["up", "degraded", "down", "unknown"]
EXIT_CODES: dict[State, int] = {"up": 0, "degraded": 1, "down": 2, "unknown": 3}


@dataclass
class SaSummary:
    peer_ip: str
    local_ip: str
    interface: str
    encryption: str
    authentication: str
    pfs_group: int | None
    lifetime_remaining: int
    lifetime_total: int
    in_spi: str
    out_spi: str
    in_packets: int
    out_packets: int
    in_errors: int

    @classmethod
    def from_sa(cls, sa: IpsecSa) -> SaSummary:
        return cls(
            peer_ip=sa.peer_ip,
            local_ip=sa.local_ip,
            interface=sa.interface,
            encryption=sa.encryption,
            authentication=sa.authentication,
            pfs_group=sa.pfs_group if sa.pfs else None,
            lifetime_remaining=sa.lifetime_remaining,
            lifetime_total=sa.lifetime_total,
            in_spi=sa.in_spi,
            out_spi=sa.out_spi,
            in_packets=sa.in_packets,
            out_packets=sa.out_packets,
            in_errors=(
                sa.in_replay_errors + sa.in_auth_errors + sa.in_padding_errors + sa.in_rule_errors
            ),
        )


@dataclass
class DeviceStatus:
    reachable: bool
    ipsec_sa_count: int = 0
    isakmp_sa_count: int = 0
    ipsec_sas: list[SaSummary] = field(default_factory=list)


@dataclass
class SiteStatus:
    site: str
    state: State
    device: DeviceStatus
    cloud: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "state": self.state,
            "device": {
                "reachable": self.device.reachable,
                "ipsec_sa_count": self.device.ipsec_sa_count,
                "isakmp_sa_count": self.device.isakmp_sa_count,
                "ipsec_sas": [vars(sa) for sa in self.device.ipsec_sas],
            },
            "cloud": self.cloud,
            "problems": self.problems,
        }


def site_status(inventory: Inventory, site: str, options: ConnectOptions) -> SiteStatus:
    """One site's verdict; any failure to tell becomes ``unknown`` with the reason."""
    try:
        with connect_site(inventory, site, options) as device:
            output = device.show("show crypto sa")
        table = parse_crypto_sa(output)
    except FitelctlError as err:
        return SiteStatus(site, "unknown", DeviceStatus(reachable=False), problems=[str(err)])
    except Exception as err:  # a library failure on one site must not end the others
        problem = f"{site}: unexpected {type(err).__name__}: {err}"
        return SiteStatus(site, "unknown", DeviceStatus(reachable=False), problems=[problem])
    return judge(
        inventory,
        site,
        DeviceStatus(
            reachable=True,
            ipsec_sa_count=table.ipsec_sa_count,
            isakmp_sa_count=table.isakmp_sa_count,
            ipsec_sas=[SaSummary.from_sa(sa) for sa in table.ipsec_sas],
        ),
    )


def judge(inventory: Inventory, site: str, device: DeviceStatus) -> SiteStatus:
    """Up when an SA to the expected peer is on the expected interface and error-free."""
    config = inventory.site(site)
    peer, interface = config.cloud.global_address, config.tunnel.label
    ours = [sa for sa in device.ipsec_sas if sa.peer_ip == peer and sa.interface == interface]
    if not ours:
        problem = f"no IPsec SA with {peer} on {interface}"
        return SiteStatus(site, "down", device, problems=[problem])
    problems = [
        f"{sa.interface}: {sa.in_errors} inbound errors on SPI {sa.in_spi}"
        for sa in ours
        if sa.in_errors
    ]
    return SiteStatus(site, "degraded" if problems else "up", device, problems=problems)


def collect_status(
    inventory: Inventory,
    sites: list[str],
    *,
    workers: int,
    options: ConnectOptions | None = None,
    on_result: Callable[[SiteStatus], None] | None = None,
) -> list[SiteStatus]:
    def work(site: str) -> SiteStatus:
        result = site_status(inventory, site, options or ConnectOptions())
        result.problems = [SECRETS.redact(p) for p in result.problems]
        return result

    return for_each_site(sites, work, workers=workers, on_done=on_result)


def exit_code(statuses: list[SiteStatus]) -> int:
    return max((EXIT_CODES[s.state] for s in statuses), default=0)
