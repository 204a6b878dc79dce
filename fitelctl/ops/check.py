"""``check``: will this site's tunnel link up, and what should change before a push.

Pure rules over the inventory (no device, no API): each finding has a severity,
a stable rule id (an API: scripts and ``apply`` rely on them) and a message that
says what to change.  The algorithm rules compare the device's offer with
``ike.accepted_set``, the negotiation model's view of what the VPC router
selects, so ``check`` and the model cannot disagree: a site has no error
exactly when ``ike.negotiate`` brings its tunnel up (tested over a grid).

The pre-shared key is resolved (it must be checked) but its value never
appears in a finding.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Literal

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.algorithms import DH_GROUP_BY_NUMBER, HASH_BY_WORD
from fitelctl.ike import AcceptedSet, accepted_set
from fitelctl.inventory import EmptySecretError, Inventory, SecretError, resolve_secret
from fitelctl.inventory.tunnel import Cloud, Crypto, Tunnel
from fitelctl.parsing import IKE_CHILD_LAYOUT_FROM, KNOWN_MODELS, firmware_release

Severity = Literal["error", "warning", "info"]

#: The VPC router accepts a PSK of 0 to 40 characters (docs/domain.md#vpc-router-versions-1-and-2).
PSK_MAX_LENGTH = 40

#: Characters a PSK may use.  INFERRED: which characters the VPC router rejects
#: is not public, so this is deliberately conservative: printable ASCII without
#: whitespace (the F220 CLI splits ``local-key KEY`` on it), quotes and backquote
#: (CLI and shell quoting), backslash (escapes) and ``?`` (context help on a
#: Cisco-style CLI such as FITELnet's: typing it shows help instead of the key).
PSK_SYMBOLS = "!#$%&()*+,-./:;<=>@[]^_{|}~"
PSK_ALLOWED_CHARACTERS = frozenset(string.ascii_letters + string.digits + PSK_SYMBOLS)

#: Under this IPsec SA lifetime (seconds) ``check`` warns: YAMAHA RT's minimum.
SHORT_IPSEC_LIFETIME = 300

_V1_ONLY_SET = (
    "whatever its manual lists, a version-1 VPC router links with F220 firmware only with "
    "AES128 + SHA1 + MODP1536 (group 5) + PFS group 5 (preset sakura-v1)"
)


@dataclass(frozen=True)
class Finding:
    site: str
    severity: Severity
    rule: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"severity": self.severity, "rule": self.rule, "message": self.message}


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def check_site(inventory: Inventory, site: str) -> list[Finding]:
    """Every finding for one site, errors first; unknown site → ``InventoryError``."""
    config = inventory.site(site)
    tunnel, cloud = config.tunnel, config.cloud
    crypto = tunnel.resolved_crypto()
    found = [
        *_ike_version(crypto),
        *_algorithms(crypto, cloud, accepted_set(config.cloud_peer())),
        *_identities(tunnel, cloud),
        *_psk(tunnel, inventory, site),
        *_timers(crypto, cloud),
        *_firmware(config.device.model, config.device.firmware),
    ]
    findings = [Finding(site, severity, rule, message) for severity, rule, message in found]
    return sorted(findings, key=lambda f: f.severity != "error")


#: (severity, rule, message): a finding before its site is attached.
Hit = tuple[Severity, str, str]


def _ike_version(crypto: Crypto) -> list[Hit]:
    if crypto.ike_version == 1:
        return []
    return [
        (
            "error",
            "ike-version",
            f"the inventory asks for IKEv{crypto.ike_version} (ike-version "
            f"{crypto.ike_version}), but a Sakura Cloud VPC router peer is IKEv1 only (main "
            "mode): set tunnel.crypto.ike_version: 1 (or remove it: the sakura presets use 1)",
        )
    ]


# -- algorithms ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Difference:
    topic: Literal["encryption", "hash", "dh-group", "pfs-group"]
    what: str  # what differs, in the device's vocabulary
    change: str  # the inventory change on the device side that fixes it


#: The version-2 alternative: change the router's setting instead of the F220's.
_CLOUD_ALTERNATIVE = {
    "encryption": "or change cloud.encryption_algo to match the F220",
    "hash": "or change cloud.hash_algo to match the F220",
    "dh-group": "or change cloud.dh_group to match the F220",
    "pfs-group": "PFS always uses the router's DH group, cloud.dh_group",
}


def _algorithms(crypto: Crypto, cloud: Cloud, want: AcceptedSet) -> list[Hit]:
    if cloud.version == 1:
        return [
            ("error", "v1-unsupported-algorithm", f"{d.what}; {_V1_ONLY_SET}: {d.change}")
            for d in _differences(crypto, want)
        ]
    return [
        (
            "error",
            f"v2-{d.topic}-mismatch",
            f"{d.what}: {d.change} ({_CLOUD_ALTERNATIVE[d.topic]})",
        )
        for d in _differences(crypto, want)
    ]


def offered_key_bits(size: tuple[int, int, int] | None) -> tuple[int, ...]:
    """AES key lengths the F220 offers: all of them unless a keysize line pins a range.

    INFERRED (docs/domain.md#ipsec-configuration-vocabulary): with no keysize line it
    offers 128 to 256 and the router picks.
    """
    if size is None:
        return vocab.DEFAULT_AES_KEY_BITS
    low, high, _ = size
    return tuple(bits for bits in vocab.AES_KEY_BITS if low <= bits <= high)


def _differences(crypto: Crypto, want: AcceptedSet) -> list[_Difference]:
    aes = f"AES-{want.aes_bits}"
    wanted_auth = HASH_BY_WORD[want.hash].esp
    found: list[_Difference] = []
    if crypto.ike_encryption != "aes":
        found.append(
            _Difference(
                "encryption",
                f"IKE encryption is {crypto.ike_encryption}, the VPC router selects {aes}",
                "set tunnel.crypto.ike_encryption: aes",
            )
        )
    elif want.aes_bits not in offered_key_bits(crypto.ike_key_size):
        found.append(_key_size_difference("IKE", "ike_key_size", crypto.ike_key_size, want))
    if crypto.esp_encryption != "esp-aes":
        found.append(
            _Difference(
                "encryption",
                f"ESP encryption is {crypto.esp_encryption}, the VPC router selects {aes}",
                f"set tunnel.crypto.esp_transform: [esp-aes, {crypto.esp_auth}]",
            )
        )
    elif want.aes_bits not in offered_key_bits(crypto.esp_key_size):
        found.append(_key_size_difference("ESP", "esp_key_size", crypto.esp_key_size, want))
    if crypto.ike_hash != want.hash:
        found.append(
            _Difference(
                "hash",
                f"IKE hash is {crypto.ike_hash}, the VPC router selects {want.hash}",
                f"set tunnel.crypto.ike_hash: {want.hash}",
            )
        )
    if crypto.esp_auth != wanted_auth:
        found.append(
            _Difference(
                "hash",
                f"ESP integrity is {crypto.esp_auth}, the VPC router selects {wanted_auth}",
                f"set tunnel.crypto.esp_transform: [esp-aes, {wanted_auth}]",
            )
        )
    if crypto.dh_group != want.dh_group:
        found.append(
            _Difference(
                "dh-group",
                f"IKE DH group is {crypto.dh_group}, the VPC router selects group "
                f"{want.dh_group} ({DH_GROUP_BY_NUMBER[want.dh_group].swanctl})",
                f"set tunnel.crypto.dh_group: {want.dh_group}",
            )
        )
    if crypto.pfs_group != want.pfs_group:
        have = f"group {crypto.pfs_group}" if crypto.pfs_group else "off"
        found.append(
            _Difference(
                "pfs-group",
                f"PFS is {have}, but the VPC router's quick mode proposal carries its DH "
                f"group {want.pfs_group} (strongSwan: "
                f"ESP:.../{DH_GROUP_BY_NUMBER[want.pfs_group].charon}/...)",
                f"set tunnel.crypto.pfs_group: {want.pfs_group}",
            )
        )
    return found


def _key_size_difference(
    phase: str, key: str, size: tuple[int, int, int] | None, want: AcceptedSet
) -> _Difference:
    bits = want.aes_bits
    offered = "/".join(str(b) for b in offered_key_bits(size))
    return _Difference(
        "encryption",
        f"{phase} AES key size is pinned to {list(size or ())} (offers {offered} bits), "
        f"the VPC router selects AES-{bits}",
        f"remove tunnel.crypto.{key} (the F220 then offers 128 to 256 bits) "
        f"or pin [{bits}, {bits}, {bits}]",
    )


# -- identities ---------------------------------------------------------------------------


def _identities(tunnel: Tunnel, cloud: Cloud) -> list[Hit]:
    found: list[Hit] = []
    remote_id = tunnel.cloud_remote_id(cloud)
    if tunnel.identity != remote_id:
        found.append(
            (
                "error",
                "remote-id-mismatch",
                f"the F220 presents self-identity address {tunnel.identity}, but the VPC "
                f"router's RemoteID for this peer is {remote_id}: set cloud.remote_id: "
                f"{tunnel.identity} (or tunnel.self_identity: {remote_id})",
            )
        )
    peer = tunnel.cloud_peer_address(cloud)
    if peer != tunnel.outside_address:
        found.append(("error", "peer-address-mismatch", _peer_message(tunnel, peer)))
    return found


def _peer_message(tunnel: Tunnel, peer: str) -> str:
    fix = f"set cloud.peer: {tunnel.outside_address} (or remove it: it defaults to that)"
    if tunnel.outside_address == tunnel.wan_address:
        return (
            f"the VPC router's Peer for this site is {peer}, but the F220 sends IKE from "
            f"{tunnel.wan_address}: {fix}"
        )
    return (
        f"the VPC router's Peer for this site is {peer}, but the F220 is behind NAT "
        f"({tunnel.wan_address} on the box, seen from outside as {tunnel.public_address}): "
        f"the router sees IKE packets from the public address and only a peer entry for it "
        f"matches: {fix}"
    )


# -- pre-shared key -----------------------------------------------------------------------


_PSK_FIX = {
    "psk-unresolved": "make the reference resolve, or point tunnel.psk at where the key is",
    "psk-empty": "set a key (both routers need the same one; the VPC router takes up to 40 "
    "characters)",
}


def _psk(tunnel: Tunnel, inventory: Inventory, site: str) -> list[Hit]:
    try:
        psk = resolve_secret(tunnel.psk, inventory, what=f"sites.{site}.tunnel.psk")
    except SecretError as err:
        # The resolver refuses an empty secret; say so with the specific rule.
        rule = "psk-empty" if isinstance(err, EmptySecretError) else "psk-unresolved"
        return [("error", rule, f"{err}: {_PSK_FIX[rule]}")]
    return psk_findings(psk)


def psk_findings(psk: str) -> list[Hit]:
    """Rules on the key's value; messages tell length or counts, never the key."""
    if not psk:
        return [("error", "psk-empty", f"the pre-shared key is empty: {_PSK_FIX['psk-empty']}")]
    found: list[Hit] = []
    if len(psk) > PSK_MAX_LENGTH:
        found.append(
            (
                "error",
                "psk-too-long",
                f"the pre-shared key has {len(psk)} characters, the VPC router accepts at "
                f"most {PSK_MAX_LENGTH}: choose a shorter key and set it on both sides",
            )
        )
    bad = sum(1 for char in psk if char not in PSK_ALLOWED_CHARACTERS)
    if bad:
        found.append(
            (
                "error",
                "psk-characters",
                f"the pre-shared key has {bad} character(s) that may not be accepted by the "
                "VPC router or typed into the F220 CLI (space, quotes, backslash, '?', "
                f"non-ASCII): use only ASCII letters, digits and {PSK_SYMBOLS}",
            )
        )
    return found


# -- timers -------------------------------------------------------------------------------


def _timers(crypto: Crypto, cloud: Cloud) -> list[Hit]:
    pairs = (
        ("ike-lifetime-differs", "ISAKMP SA lifetime", "ike_lifetime", crypto.ike_lifetime,
         "ike_lifetime", cloud.ike_lifetime, "re-authentication happens at the shorter"),
        ("esp-lifetime-differs", "IPsec SA lifetime", "ipsec_lifetime", crypto.ipsec_lifetime,
         "esp_lifetime", cloud.esp_lifetime, "rekeys happen at the shorter"),
        ("dpd-interval-differs", "DPD interval", "keepalive_interval", crypto.keepalive_interval,
         "dpd_interval", cloud.dpd_interval, "each side notices a dead peer at a different time"),
    )  # fmt: skip
    found: list[Hit] = [
        (
            "warning",
            rule,
            f"{what}: F220 {device} s, VPC router {remote} s"
            + (" (fixed on a version-1 router)" if cloud.version == 1 else "")
            + f"; the tunnel links, but {consequence}: to align them set "
            f"tunnel.crypto.{device_key}: {remote}"
            + ("" if cloud.version == 1 else f" or cloud.{cloud_key}: {device}"),
        )
        for rule, what, device_key, device, cloud_key, remote, consequence in pairs
        if device != remote
    ]
    if crypto.ipsec_lifetime < SHORT_IPSEC_LIFETIME:
        found.append(("warning", "ipsec-lifetime-short", _short_lifetime(crypto.ipsec_lifetime)))
    return found


def _short_lifetime(seconds: int) -> str:
    return (
        f"IPsec SA lifetime {seconds} s is under {SHORT_IPSEC_LIFETIME} s (YAMAHA RT's "
        "minimum; FITELnet's default is 600 s, the VPC router's 1800 s). Trade-off: a tunnel "
        f"dropped by a line fault re-forms within {seconds} s without waiting for DPD, at "
        f"the cost of a rekey every {seconds} s on both routers (the article chose 180 s on "
        "purpose, once a version-2 router had CPU to spare). Keep it if that is intended; "
        f"otherwise set tunnel.crypto.ipsec_lifetime: {SHORT_IPSEC_LIFETIME} or more"
    )


def _firmware(model: str | None, firmware: str | None) -> list[Hit]:
    """What depends on the firmware the inventory states (``device.firmware``)."""
    if firmware is None:
        return []
    name = f"{model or 'device'} firmware {firmware}"
    release = firmware_release(firmware)
    if release is None:
        layout = "fitelctl cannot tell which `show crypto sa` layout it prints"
    elif release >= IKE_CHILD_LAYOUT_FROM:
        layout = "it prints `show crypto sa` as IKE_SA and CHILD_SA blocks (V01.11 and later)"
    else:
        layout = "it prints `show crypto sa` as IPSEC SA blocks (before V01.11)"
    unseen = (
        f"; {model!r} is not a model fitelctl has seen"
        if model and model not in KNOWN_MODELS
        else ""
    )
    return [
        (
            "info",
            "firmware",
            f"{name}: {layout}; status reads both layouts and names the running firmware "
            f"(show version){unseen}",
        )
    ]
