"""IKEv1 negotiation between an F220 tunnel and a VPC router peer entry.

Pure code: given what the device offers (``DeviceTunnel``) and what the cloud
side accepts (``CloudPeer``), decide whether the tunnel comes up, with which
algorithms, and if not, why.  The lab uses it to drive `show crypto sa`; the
checks reuse it to warn before a push.

The version-1 router's accepted set is the one *observed* with an F220 in the article
(AES128/SHA1/MODP1536/PFS group 5), not the one its manual lists: the documented
combinations did not link (docs/domain.md#vpc-router-versions-1-and-2).  A version-2 router
accepts exactly its configured EncryptionAlgo / HashAlgo / DHGroup, with PFS in the same
group (strongSwan's ESP proposal carries the DH group, see the article's
``ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fitelctl.fitelnet.algorithms import AES, DH_GROUP_BY_SWANCTL, HASH_BY_SWANCTL, HASH_BY_WORD
from fitelctl.fitelnet.crypto_config import DeviceTunnel

NegotiationCause = Literal[
    "ok",
    "proposal_mismatch_main_mode",
    "proposal_mismatch_quick_mode",
    "psk_mismatch",
    "id_mismatch",
    "no_response",
    "router_down",
]

#: The VPC router's algorithm settings (strongSwan's proposal keywords) in FITELnet's
#: terms: the values a version-2 router takes, and the version-1 router's fixed group.
CLOUD_AES_BITS = {AES.swanctl_name(bits): bits for bits in (128, 256)}
CLOUD_HASH_TO_DEVICE = {name: HASH_BY_SWANCTL[name].word for name in ("sha1", "sha256")}
CLOUD_DH_GROUP = {
    name: DH_GROUP_BY_SWANCTL[name].number
    for name in ("modp1024", "modp1536", "modp2048", "modp3072", "modp4096")
}


@dataclass(frozen=True)
class CloudPeer:
    """One site-to-site peer entry of a VPC router, with the router's algorithm settings."""

    router_version: int
    router_up: bool
    global_address: str
    peer: str  # the office's public address
    remote_id: str  # the identity the office must present
    psk: str
    encryption_algo: str = "aes128"  # version 2 only
    hash_algo: str = "sha1"
    dh_group: str = "modp1536"
    ike_lifetime: int = 28800
    esp_lifetime: int = 1800


@dataclass(frozen=True)
class AcceptedSet:
    aes_bits: int
    hash: str  # device vocabulary: "sha", "sha-256"
    dh_group: int
    pfs_group: int


#: Version 1: fixed by the service; the only set observed to link with an F220.
VERSION1_ACCEPTED = AcceptedSet(aes_bits=128, hash="sha", dh_group=5, pfs_group=5)


def accepted_set(peer: CloudPeer) -> AcceptedSet:
    """What the router will select, whatever the office proposes."""
    if peer.router_version == 1:
        return VERSION1_ACCEPTED
    group = CLOUD_DH_GROUP[peer.dh_group]
    return AcceptedSet(
        aes_bits=CLOUD_AES_BITS[peer.encryption_algo],
        hash=CLOUD_HASH_TO_DEVICE[peer.hash_algo],
        dh_group=group,
        pfs_group=group,
    )


@dataclass(frozen=True)
class Outcome:
    cause: NegotiationCause
    detail: str
    ike_aes_bits: int | None = None
    esp_aes_bits: int | None = None
    ike_lifetime: int | None = None
    ipsec_lifetime: int | None = None

    @property
    def up(self) -> bool:
        return self.cause == "ok"


def negotiate(
    device: DeviceTunnel, cloud: CloudPeer | None, *, device_public_address: str
) -> Outcome:
    """Run main mode then quick mode, in the order strongSwan checks things."""
    if cloud is None or device.peer != cloud.global_address:
        return Outcome("no_response", f"nothing answers at {device.peer}")
    if not cloud.router_up:
        return Outcome("router_down", "the VPC router is not running")
    if device.ike_version != 1:
        # refused before any peer entry is looked at: the router has no IKEv2 config at all
        return Outcome(
            "proposal_mismatch_main_mode",
            f"ike-version {device.ike_version}: the VPC router speaks IKEv1 main mode",
        )
    if cloud.peer != device_public_address:
        return Outcome(
            "id_mismatch",
            f"the VPC router has no peer entry for {device_public_address} (it has {cloud.peer})",
        )
    want = accepted_set(cloud)
    main = _main_mode_mismatch(device, want)
    if main:
        return Outcome("proposal_mismatch_main_mode", main)
    if device.psk != cloud.psk:
        return Outcome("psk_mismatch", "the pre-shared keys differ")
    identity = presented_identity(device, device_public_address)
    if identity != cloud.remote_id:
        return Outcome("id_mismatch", f"device identity {identity} != RemoteID {cloud.remote_id}")
    quick = _quick_mode_mismatch(device, want)
    if quick:
        return Outcome("proposal_mismatch_quick_mode", quick)
    return Outcome(
        "ok",
        "established",
        ike_aes_bits=want.aes_bits,
        esp_aes_bits=want.aes_bits,
        ike_lifetime=min(device.ike_lifetime, cloud.ike_lifetime),
        ipsec_lifetime=device.ipsec_lifetime,
    )


def presented_identity(device: DeviceTunnel, device_public_address: str) -> str:
    """The identity the F220 sends in Main Mode: its ``self-identity``, else its address.

    Without ``self-identity`` it is the address IKE runs from (``local-address``, else
    the office's address), as with strongSwan, which identifies by address by default;
    held to real charons by the interop suite's conformance test.
    """
    return device.self_identity or device.local_address or device_public_address


def _main_mode_mismatch(device: DeviceTunnel, want: AcceptedSet) -> str:
    if device.aggressive_mode:
        return "initiate-mode aggressive: the VPC router speaks main mode only"
    if device.ike_encryption != "aes" or want.aes_bits not in device.ike_key_bits:
        return f"IKE encryption: router wants AES-{want.aes_bits}"
    if want.hash not in device.ike_hashes:
        return f"IKE hash {device.ike_hash}: router wants {want.hash}"
    if device.dh_group != want.dh_group:
        return f"IKE group {device.dh_group}: router wants group {want.dh_group}"
    return ""


def _quick_mode_mismatch(device: DeviceTunnel, want: AcceptedSet) -> str:
    if device.esp_encryption != "esp-aes" or want.aes_bits not in device.esp_key_bits:
        return f"ESP encryption: router wants esp-aes {want.aes_bits}"
    wanted_auth = HASH_BY_WORD[want.hash].esp
    if device.esp_auth != wanted_auth:
        return f"ESP integrity {device.esp_auth}: router wants {wanted_auth}"
    if device.pfs_group != want.pfs_group:
        have = f"group{device.pfs_group}" if device.pfs_group else "off"
        return f"PFS {have}: router wants group{want.pfs_group}"
    return ""
