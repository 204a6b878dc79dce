"""The lab's scenarios (docs/output-contract.md#lab-scenarios): each site's start and the router.

Site ``tokyo`` carries the source article's addresses and config
(docs/domain.md#the-source-article); ``site2``…``siteN``
get the same layout with their own addresses.  All addresses are data: the lab
only ever listens on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Literal

VPC_ROUTER_ADDRESS = "27.133.132.134"
CLOUD_LOCAL_PREFIX = "192.168.100.0/24"

SCENARIOS = ("seed-v1", "seed-v2-pending", "seed-v2", "fresh", "migration-stuck")
ScenarioName = Literal["seed-v1", "seed-v2-pending", "seed-v2", "fresh", "migration-stuck"]

DeviceCrypto = Literal["v1", "v2", "none"]


@dataclass(frozen=True)
class Scenario:
    name: str
    router_version: int
    device_crypto: DeviceCrypto
    #: version-2 algorithm settings (ignored by a version-1 router)
    encryption_algo: str = "aes256"
    hash_algo: str = "sha256"
    dh_group: str = "modp2048"
    #: what the inventory describes as the intended state
    intended: Literal["v1", "v2"] = "v2"


def scenario(name: str) -> Scenario:
    table = {
        "seed-v1": Scenario("seed-v1", 1, "v1", intended="v1"),
        "seed-v2-pending": Scenario("seed-v2-pending", 2, "v1"),
        "seed-v2": Scenario("seed-v2", 2, "v2"),
        "fresh": Scenario("fresh", 2, "none"),
        "migration-stuck": Scenario("migration-stuck", 1, "v1", intended="v1"),
    }
    if name not in table:
        raise KeyError(name)
    return table[name]


@dataclass(frozen=True)
class SiteAddresses:
    site: str
    hostname: str
    wan: str  # on the box
    public: str  # as the VPC router sees it (NAT)
    gateway: str
    map_name: str


def site_addresses(index: int) -> SiteAddresses:
    """Site 0 is the article's tokyo; the others live in documentation/benchmark ranges."""
    if index == 0:
        return SiteAddresses(
            "tokyo", "tokyo", "172.30.128.254", "126.169.118.242", "172.30.128.1", "sakuratokyo"
        )
    name = f"site{index + 1}"
    hi, lo = divmod(index, 250)
    return SiteAddresses(
        site=name,
        hostname=name,
        wan=f"10.{hi}.{lo}.254",
        public=f"198.18.{hi}.{lo + 1}",
        gateway=f"10.{hi}.{lo}.1",
        map_name=f"sakura{name}",
    )


def _template(name: str) -> Template:
    text = resources.files("fitelctl.lab").joinpath(f"assets/{name}").read_text(encoding="utf-8")
    return Template(text)


def device_config(addresses: SiteAddresses, crypto: DeviceCrypto, psk: str) -> str:
    """The site's full boot config: base, then IPsec (if any), then the tunnel binding."""
    values = {
        "hostname": addresses.hostname,
        "wan": addresses.wan,
        "gateway": addresses.gateway,
        "map": addresses.map_name,
        "peer": VPC_ROUTER_ADDRESS,
        "psk": psk,
        "remote_prefix": CLOUD_LOCAL_PREFIX,
    }
    parts = [_template("base.cfg.tmpl").substitute(values)]
    if crypto != "none":
        parts.append(_template(f"crypto_{crypto}.cfg.tmpl").substitute(values))
        parts.append(_template("tunnel.cfg.tmpl").substitute(values))
    return "".join(part if part.endswith("\n") else part + "\n" for part in parts)
