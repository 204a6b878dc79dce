"""The lab's shared state: devices, the VPC router, and the tunnels between them.

Each device tunnel is negotiated against the router with ``fitelctl.ike``
whenever either side changes (commit, ``clear crypto sa``).  A tunnel that came
up gets fresh SPIs and keys; reading it later derives lifetime left, rekeys and
traffic counters from the clock, so the numbers move like a live device's
without a background task per tunnel.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.algorithms import DH_GROUP_BY_NUMBER, HASH_BY_ESP
from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import BrokenTunnel, DeviceTunnel, read_tunnels
from fitelctl.ike import CloudPeer, Outcome, negotiate
from fitelctl.lab.crypto_sa import IkeSaView, IpsecSaView, render_crypto_sa
from fitelctl.lab.device.model import LabDevice


@dataclass
class PeerEntry:
    peer: str
    remote_id: str
    psk: str


@dataclass
class VpcRouter:
    """The cloud side as far as tunnels care (the API model is a separate layer)."""

    global_address: str
    version: int
    up: bool = True
    encryption_algo: str = "aes128"
    hash_algo: str = "sha1"
    dh_group: str = "modp1536"
    ike_lifetime: int = 28800
    esp_lifetime: int = 1800
    peers: list[PeerEntry] = field(default_factory=list)

    def cloud_peer(self, public_address: str) -> CloudPeer:
        entry = next((p for p in self.peers if p.peer == public_address), None)
        return CloudPeer(
            router_version=self.version,
            router_up=self.up,
            global_address=self.global_address,
            peer=entry.peer if entry else "",
            remote_id=entry.remote_id if entry else "",
            psk=entry.psk if entry else "",
            encryption_algo=self.encryption_algo,
            hash_algo=self.hash_algo,
            dh_group=self.dh_group,
            ike_lifetime=self.ike_lifetime,
            esp_lifetime=self.esp_lifetime,
        )


@dataclass
class Tunnel:
    """One negotiated (or failed) tunnel of a device."""

    config: DeviceTunnel
    outcome: Outcome
    established_at: float
    seed: str  # per-negotiation randomness: SPIs, keys and cookies derive from it


@dataclass
class SiteLink:
    device: LabDevice
    public_address: str
    tunnels: list[Tunnel] = field(default_factory=list)
    broken: list[BrokenTunnel] = field(default_factory=list)


class LabWorld:
    """Implements the device's ``CryptoWorld``: what `show crypto sa` sees."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.routers: dict[str, VpcRouter] = {}
        self.sites: dict[str, SiteLink] = {}

    def add_router(self, router: VpcRouter) -> None:
        self.routers[router.global_address] = router

    def add_site(self, device: LabDevice, *, public_address: str) -> None:
        self.sites[device.spec.site] = SiteLink(device, public_address)
        device.world = self
        self.renegotiate(device.spec.site)

    # -- CryptoWorld -------------------------------------------------------
    def show_crypto_sa(self, site: str) -> str:
        link = self.sites[site]
        now = self.clock()
        up = [t for t in link.tunnels if t.outcome.up]
        ike = [_ike_view(t, link, now) for t in up]
        ipsec = [_ipsec_view(t, link, now) for t in up]
        return render_crypto_sa(link.device.spec.sa_format, ike, ipsec)

    def clear_crypto_sa(self, site: str) -> None:
        self.renegotiate(site)

    def current_config_changed(self, site: str) -> None:
        self.renegotiate(site)

    # -- the model ---------------------------------------------------------
    def renegotiate(self, site: str) -> None:
        """Negotiate every tunnel of ``site`` afresh (new SPIs when it comes up)."""
        link = self.sites[site]
        config = ConfigTree.parse(link.device.current_config())
        link.tunnels, link.broken = [], []
        for found in read_tunnels(config):
            if isinstance(found, BrokenTunnel):
                link.broken.append(found)
                continue
            router = self.routers.get(found.peer)
            cloud = router.cloud_peer(link.public_address) if router else None
            outcome = negotiate(found, cloud, device_public_address=link.public_address)
            link.tunnels.append(Tunnel(found, outcome, self.clock(), secrets.token_hex(8)))

    def renegotiate_all(self) -> None:
        for site in self.sites:
            self.renegotiate(site)

    def close(self) -> None:
        """Nothing to release: the model's tunnels are data (real IKE has processes)."""

    def outcome(self, site: str) -> list[Outcome]:
        return [t.outcome for t in self.sites[site].tunnels]


def derived_hex(seed: str, label: str, generation: int, nbytes: int) -> str:
    """Stable pseudo-random hex for one SA generation (rekeys change it)."""
    digest = hashlib.sha256(f"{seed}:{label}:{generation}".encode()).hexdigest()
    while len(digest) < nbytes * 2:
        digest += hashlib.sha256(digest.encode()).hexdigest()
    return digest[: nbytes * 2]


def _ipsec_view(tunnel: Tunnel, link: SiteLink, now: float) -> IpsecSaView:
    total = tunnel.outcome.ipsec_lifetime or tunnel.config.ipsec_lifetime
    elapsed = max(0, int(now - tunnel.established_at))
    generation, age = divmod(elapsed, total)
    bits = tunnel.outcome.esp_aes_bits or 128
    key_bytes = HASH_BY_ESP[tunnel.config.esp_auth].bits // 8

    def hexv(label: str, n: int) -> str:
        return derived_hex(tunnel.seed, label, generation, n)

    # Traffic: DPD keepalives and a little user traffic; both directions grow with time.
    in_packets, out_packets = 1 + age // 3, 2 + age // 2
    return IpsecSaView(
        interface=tunnel.config.interface,
        peer_ip=tunnel.config.peer,
        local_ip=tunnel.config.local_address or link.public_address,
        encryption=vocab.device_encryption_name(bits),
        authentication=vocab.device_authentication_name(tunnel.config.esp_auth),
        lifetime_left=total - age,
        lifetime_total=total,
        pfs_group=tunnel.config.pfs_group,
        in_spi=hexv("in-spi", 4),
        out_spi=hexv("out-spi", 4),
        in_packets=in_packets,
        in_octets=in_packets * 84,
        out_packets=out_packets,
        out_octets=out_packets * 132,
        in_cipher_key=hexv("in-ck", bits // 8),
        in_auth_key=hexv("in-ak", key_bytes),
        out_cipher_key=hexv("out-ck", bits // 8),
        out_auth_key=hexv("out-ak", key_bytes),
    )


def _ike_view(tunnel: Tunnel, link: SiteLink, now: float) -> IkeSaView:
    total = tunnel.outcome.ike_lifetime or tunnel.config.ike_lifetime
    elapsed = max(0, int(now - tunnel.established_at))
    generation, age = divmod(elapsed, total)
    group = tunnel.config.dh_group
    local_ip = tunnel.config.local_address or link.public_address
    return IkeSaView(
        local_ip=local_ip,
        remote_ip=tunnel.config.peer,
        local_id=tunnel.config.self_identity or local_ip,
        remote_id=tunnel.config.peer,
        aes_bits=tunnel.outcome.ike_aes_bits or 128,
        ike_hash=tunnel.config.ike_hash,
        dh_group=group,
        modp_bits=DH_GROUP_BY_NUMBER[group].modp_bits if group in DH_GROUP_BY_NUMBER else 0,
        initiator_cookie=derived_hex(tunnel.seed, "icookie", generation, 8),
        responder_cookie=derived_hex(tunnel.seed, "rcookie", generation, 8),
        lifetime_left=total - age,
        lifetime_total=total,
        dpd=tunnel.config.keepalive_interval is not None,
    )
