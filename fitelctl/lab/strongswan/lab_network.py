"""The lab's network for real IKE: the VPC router, the offices and an ISP between them.

One namespace plays the Internet (``isp``) and routes between the others, each on a
veth pair of its own.  Each office is behind NAT as the source article's is (the F220's
WAN address is not the address the VPC router sees): the ISP rewrites the office's
source address to the office's public lab address (nftables ``snat``), one per office,
so the router's charon sees each office under its own address and NAT-T runs as it
does in the field.

The VPC router has one place *per office*, each holding the router's address: the VPC
router's tunnels are route-based (a VTI per peer, each ``0.0.0.0/0``), and
kernel-libipsec has none; in one namespace, one charon's several ``0.0.0.0/0``
CHILD_SAs would share one route into ``ipsec0`` (only the first peer's IKE traffic
kept out of it) and one policy lookup, so all but one office would neither negotiate
nor get their traffic back.  The ISP sends what comes from office ``i`` to router place
``i`` (a routing table and rule per office, by the link it came in on); the answers
find their way back by the NAT's state.  ``router_log_merge`` makes one log of them.

Lab addresses are in 198.19.0.0/16 (inside the RFC 2544 range 198.18.0.0/15, clear of
198.18.x.y, which the scenarios use as *config* data for ``site2``…): the router is
``198.19.0.1`` (in every router place); office ``i`` (from 0) is ``198.19.<i+1>.2`` on
its own link, and ``198.19.<i+1>.100`` once through the NAT.  Each side also has an
inside address, on its loopback, that the lab's traffic goes between through the
tunnel: ``198.19.<i+1>.10`` for office ``i`` and ``198.19.0.101`` for the router.

``drop_ike`` makes the ISP drop an office's IKE packets (UDP 500 and 4500), both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

from fitelctl.lab.strongswan.netns import Namespaces, ip

MAX_OFFICES = 200
ROUTER_ADDRESS = "198.19.0.1"
ROUTER_INSIDE = "198.19.0.101"
_ISP_ROUTER_SIDE = "198.19.0.254"
#: the ISP's routing table for office ``i``'s traffic is ``_FIRST_TABLE + i``
_FIRST_TABLE = 1000


@dataclass(frozen=True)
class Place:
    """Where one side of the lab's IKE lives: its namespace and its lab addresses."""

    namespace: str
    address: str  # its own (outside) address
    public: str  # the address the other side sees (after NAT)
    inside: str  # where the lab's traffic through the tunnel starts or ends


class LabNetwork:
    """The ISP namespace and the places of the offices and the router attached to it."""

    def __init__(self, namespaces: Namespaces, label: str) -> None:
        self._namespaces, self._label = namespaces, label
        self.isp = self._create("isp")
        ip("netns", "exec", self.isp, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _nft(self.isp, "add table ip lab")
        _nft(self.isp, "add chain ip lab outbound { type nat hook postrouting priority 100 ; }")
        _nft(self.isp, "add chain ip lab ikefilter { type filter hook forward priority 0 ; }")
        self._offices = 0

    def add_office(self, name: str) -> tuple[Place, Place]:
        """The places of office ``name`` and of the VPC router's side of its tunnels."""
        index = self._offices
        if index >= MAX_OFFICES:
            raise ValueError(f"the strongSwan lab holds at most {MAX_OFFICES} offices")
        self._offices += 1
        namespace = self._create(name)
        net = f"198.19.{index + 1}"
        self._namespaces.link(self.isp, f"{net}.1/24", namespace, f"{net}.2/24", name=f"o{index}")
        ip("route", "add", "default", "via", f"{net}.1", namespace=namespace)
        ip("addr", "add", f"{net}.10/32", "dev", "lo", namespace=namespace)
        _nft(self.isp, f"add rule ip lab outbound ip saddr {net}.2 snat to {net}.100")
        office = Place(namespace, f"{net}.2", f"{net}.100", f"{net}.10")
        return office, self._add_router_place(name, index)

    def _add_router_place(self, office: str, index: int) -> Place:
        """A namespace holding the router's address, reached from office ``index`` only."""
        namespace = self._create(f"vpc-{office}")
        link, table = f"r{index}", str(_FIRST_TABLE + index)
        self._namespaces.link(
            self.isp, f"{_ISP_ROUTER_SIDE}/32", namespace, f"{ROUTER_ADDRESS}/24", name=link
        )
        ip("route", "add", f"{ROUTER_ADDRESS}/32", "dev", link, "table", table, namespace=self.isp)
        ip("rule", "add", "iif", f"o{index}", "lookup", table, "pref", table, namespace=self.isp)
        ip("route", "add", "default", "via", _ISP_ROUTER_SIDE, namespace=namespace)
        ip("addr", "add", f"{ROUTER_INSIDE}/32", "dev", "lo", namespace=namespace)
        return Place(namespace, ROUTER_ADDRESS, ROUTER_ADDRESS, ROUTER_INSIDE)

    def _create(self, name: str) -> str:
        """A namespace with IPv6 off: the lab speaks IPv4 only, and charon would log every
        link-local address that appears."""
        namespace = self._namespaces.create(f"{self._label}-{name}")
        ip(
            "netns",
            "exec",
            namespace,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        )
        return namespace

    def drop_ike(self, office: Place) -> None:
        """From now on the ISP drops ``office``'s IKE traffic (both directions)."""
        for direction in ("saddr", "daddr"):
            _nft(
                self.isp,
                f"add rule ip lab ikefilter ip {direction} {office.address} "
                "udp dport { 500, 4500 } drop",
            )
            _nft(
                self.isp,
                f"add rule ip lab ikefilter ip {direction} {office.address} "
                "udp sport { 500, 4500 } drop",
            )


def _nft(namespace: str, command: str) -> None:
    ip("netns", "exec", namespace, "nft", command)
