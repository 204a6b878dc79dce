"""An F220's committed crypto config, and a VPC router's settings, as swanctl connections.

Pure code: text and JSON in, ``Connection`` values (the body of vici's ``load-conn``
plus the pre-shared key) out.  Both charons of the lab are configured from here, each
from its own side's configuration only; nothing here knows whether the two will agree.

F220 keywords mapped (everything the lab device's grammar accepts in the crypto blocks):

====================================================  =======================================
F220 line                                             swanctl
====================================================  =======================================
``crypto isakmp policy`` ``authentication pre-share``  ``local/remote.auth = psk``
``encryption aes|3des|des``                           IKE proposal cipher ``aesN``/``3des``/``des``
``encryption-keysize aes MIN MAX PREF``               one IKE proposal per key length, PREF first
``hash sha|sha-256|sha-512|md5`` (one or more)        IKE integrity and PRF ``sha1``/``sha256``/…
``group N``                                           IKE DH group (``modp1536``, ``ecp256``, …)
``lifetime S``                                        ``reauth_time`` + ``over_time`` = S
``initiate-mode main|aggressive``                     ``aggressive = no|yes``
``crypto isakmp profile`` ``ike-version 1|2``          ``version``
``set peer A``                                        ``remote_addrs`` (the lab's place for A)
``local-address A``                                   the identity when no ``self-identity``
``self-identity address|fqdn|user-fqdn V``            ``local.id`` = ``V``/``fqdn:V``/``email:V``
``local-key [ascii] K``                               the IKE shared secret
``keepalive interval N …``                            ``dpd_delay = N``
``set isakmp-policy``/``set ipsec-policy``            which policies above apply
``crypto ipsec policy`` ``set security-association    ESP proposal cipher ``aesN``/``3des``/
transform ESP-CIPHER ESP-AUTH``                       ``des``/``null``, integrity ``sha1``/…
``set security-association transform-keysize``        one ESP proposal per key length
``set pfs groupN``                                    the ESP proposal's DH group (none: no PFS)
``set security-association lifetime seconds S``       the CHILD_SA's ``life_time`` (S)
``set security-association always-up``                ``start_action = start`` (else ``trap``)
``set udp-encapsulation-force``                       ``encap = yes``
``crypto ipsec selector`` ``src|dst N ipv4 any|P``     ``local_ts``/``remote_ts`` (any: 0.0.0.0/0)
``crypto map`` ``match address``/``set isakmp-profile``  which selector and profile apply
``crypto ipsec security-association lifetime          the CHILD_SA's ``life_time`` when the
seconds S`` (top level)                                policy has none
====================================================  =======================================

Lines read and deliberately not expressed, because they do not change what the two
sides negotiate: ``set ip df-bit``, ``set ip fragment``, ``set mtu``, ``set mss``,
``set udp-encapsulation …`` (charon always does NAT-T, and ``kernel-libipsec`` forces
UDP encapsulation anyway), and at top level ``crypto isakmp keepalive``, ``crypto
isakmp log …``, ``crypto isakmp negotiation always-up-params …``, ``crypto ipsec
replay-check …``.  Anything else in a crypto block has no translation and is refused
with its line number (``TranslationError``), never dropped; so is an algorithm word
``fitelctl.fitelnet.algorithms`` does not name, and a setting given twice in one block
(the F220 keeps one ``set peer``, one ``group``…: a text holding two is not what the
device shows).
A policy without ``authentication`` is taken as ``pre-share``, the only method the
vocabulary has (docs/domain.md#ipsec-configuration-vocabulary).

What swanctl cannot express of the F220: its peer-identity check (UNKNOWN; the device
side accepts any identity from the router: ``remote.id = %any``), and the F220's own
retry timing (``always-up-params``): charon's retransmission timing applies instead.

The VPC router's side follows its settings: version 1 accepts only AES-128/SHA-1/
MODP-1536 with PFS in the same group (the one set observed to link with an F220,
docs/domain.md#vpc-router-versions-1-and-2); version 2 its ``EncryptionAlgo``,
``HashAlgo``, ``DHGroup`` (PFS in the same group), ``IKE``/``ESP`` lifetimes and DPD.
Each peer entry is one connection named as the real router names it
(``peer-<Peer>-tunnel-vti``, see the router's log), route-based (0.0.0.0/0 both ways),
presenting its global address as its identity and wanting ``RemoteID`` (the peer's
address when empty).

Addresses: ``LabAddresses`` says where each address of the configs lives in the lab's
namespaces; an address it does not know goes to ``UNREACHABLE``, a lab address nothing
answers on, so a wrong ``set peer`` meets silence as it would on the Internet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.algorithms import (
    CIPHER_BY_ESP,
    CIPHER_BY_WORD,
    DH_GROUP_BY_NUMBER,
    HASH_BY_ESP,
    HASH_BY_WORD,
    Cipher,
)
from fitelctl.fitelnet.config_tree import ConfigTree, Entry
from fitelctl.fitelnet.crypto_config import BrokenTunnel, DeviceTunnel, read_tunnels
from fitelctl.lab.charon_log import router_connection_name

K = TypeVar("K")
V = TypeVar("V")

#: in 198.18.0.0/15 (RFC 2544), never given to any namespace
UNREACHABLE = "198.19.255.254"

IDENTITY_PREFIX = {"address": "", "fqdn": "fqdn:", "user-fqdn": "email:"}
#: The value words of each line that names algorithms: those the algorithm table names.
NAMED_VALUES: dict[tuple[str, str], frozenset[str]] = {
    ("crypto isakmp policy", "encryption"): frozenset(vocab.ISAKMP_ENCRYPTIONS),
    ("crypto isakmp policy", "hash"): frozenset(vocab.ISAKMP_HASHES),
    ("crypto isakmp policy", "group"): frozenset(str(g) for g in vocab.DH_GROUPS),
    ("crypto ipsec policy", "set pfs"): frozenset(f"group{g}" for g in vocab.DH_GROUPS),
    ("crypto ipsec policy", "set security-association transform"): frozenset(
        {*vocab.ESP_ENCRYPTIONS, *vocab.ESP_AUTHS}
    ),
}

#: Leading words of every line the translation reads, per block kind; ``""``: top level.
MAPPED: dict[str, tuple[str, ...]] = {
    "crypto isakmp policy": (
        "authentication pre-share",
        "encryption",
        "encryption-keysize",
        "hash",
        "group",
        "lifetime",
        "initiate-mode",
    ),
    "crypto isakmp profile": (
        "ike-version",
        "set peer",
        "local-address",
        "self-identity",
        "local-key",
        "keepalive interval",
        "set isakmp-policy",
        "set ipsec-policy",
    ),
    "crypto ipsec policy": (
        "set security-association transform",
        "set security-association transform-keysize",
        "set pfs",
        "set security-association lifetime seconds",
        "set security-association always-up",
        "set udp-encapsulation-force",
    ),
    "crypto ipsec selector": ("src", "dst"),
    "crypto map": ("match address", "set isakmp-profile"),
    "": ("crypto ipsec security-association lifetime seconds",),
}
#: Lines read and left out on purpose: they do not change the negotiation.
NOT_NEGOTIATED: dict[str, tuple[str, ...]] = {
    "crypto ipsec policy": (
        "set ip df-bit",
        "set ip fragment",
        "set mtu",
        "set mss",
        "set udp-encapsulation",
    ),
    "": (
        "crypto isakmp keepalive",
        "crypto isakmp log",
        "crypto isakmp negotiation always-up-params",
        "crypto ipsec replay-check",
    ),
}

V1_ROUTER_PROPOSAL = "aes128-sha1-modp1536"
V1_ROUTER_LIFETIMES = (28800, 1800)
#: the version-1 manual's DPD (2020 snapshot): every 15 s, peer dead after 30 s
V1_ROUTER_DPD = {"Interval": 15, "Timeout": 30}


class TranslationError(ValueError):
    """A configuration the lab's charons cannot be given as is; names the line."""


@dataclass(frozen=True)
class LabAddresses:
    """Where the configs' addresses live in the lab (config address → namespace address)."""

    places: Mapping[str, str]

    def of(self, address: str) -> str:
        return self.places.get(address, UNREACHABLE)


@dataclass(frozen=True)
class Connection:
    """One swanctl connection: its name, the ``load-conn`` body and its shared key."""

    name: str
    body: dict[str, Any]
    psk_owners: tuple[str, ...]
    psk: str = field(repr=False)


@dataclass(frozen=True)
class DeviceConnection(Connection):
    """A device's connection, with the tunnel of its config it was made from (for what
    the lab shows of its SAs: ``show crypto sa`` names the tunnel's interface and peer)."""

    tunnel: DeviceTunnel = field(compare=False, repr=False)


# ---------------------------------------------------------------- the F220's side


def device_connections(
    config_text: str, lab: LabAddresses, *, own_address: str
) -> list[DeviceConnection]:
    """Every IPsec tunnel of the device's committed config, as its charon's connections.

    ``own_address`` is the config address of the device's outside interface: the
    identity it presents when neither ``self-identity`` nor ``local-address`` names one.
    """
    check_vocabulary(config_text)
    tree = ConfigTree.parse(config_text)
    try:
        tunnels = read_tunnels(tree)
    except (ValueError, IndexError) as error:  # a number or a keysize that is not one
        raise TranslationError(f"a crypto value is malformed: {error}") from None
    connections = []
    for tunnel in tunnels:
        if isinstance(tunnel, BrokenTunnel):
            raise TranslationError(f"{tunnel.interface}: {tunnel.reason}")
        connections.append(_device_connection(tree, tunnel, lab, own_address))
    return connections


def check_vocabulary(config_text: str) -> None:
    """Refuse the first crypto line the translation neither maps nor knowingly leaves out."""
    block = ""  # the crypto block kind the indented lines belong to, if any
    seen: dict[str, int] = {}  # keyword → line number, in the current block
    for number, raw in enumerate(config_text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if raw.startswith(" "):
            kind = block
            if not kind:
                continue
        else:
            block, seen = _block_kind(line), {}
            if block or not line.startswith("crypto "):
                continue
            kind = ""
        where = f"in '{kind}'" if kind else "at top level"
        mapped = _keyword(line, MAPPED.get(kind, ()))
        if mapped is None:
            if _keyword(line, NOT_NEGOTIATED.get(kind, ())) is None:
                raise TranslationError(
                    f"line {number}: '{_opening(line)}' {where} has no strongSwan translation"
                )
            continue
        if kind and kind != "crypto ipsec selector":  # a selector holds several src/dst
            if mapped in seen:
                raise TranslationError(
                    f"line {number}: a second '{mapped}' {where} (line {seen[mapped]}); "
                    "the F220 keeps one"
                )
            seen[mapped] = number
        for word in _unnamed(kind, mapped, line[len(mapped) :].split()):
            raise TranslationError(f"line {number}: '{word}' in '{line}' has no strongSwan name")


def _block_kind(header: str) -> str:
    return next((k for k in MAPPED if k and header.startswith(k + " ")), "")


def _opening(line: str) -> str:
    """A line's first words: enough to find it, too few to carry a secret it may hold
    (``crypto isakmp key SECRET address …`` is another vendor's syntax)."""
    words = line.split()
    return " ".join(words[:3]) + (" …" if len(words) > 3 else "")


def _keyword(line: str, keywords: tuple[str, ...]) -> str | None:
    return next((k for k in keywords if line == k or line.startswith(k + " ")), None)


def _unnamed(kind: str, keyword: str, words: list[str]) -> list[str]:
    """The words of a mapped line's value that have no strongSwan name."""
    names = NAMED_VALUES.get((kind, keyword))
    return [] if names is None else [word for word in words if word not in names]


def _device_connection(
    tree: ConfigTree, tunnel: DeviceTunnel, lab: LabAddresses, own_address: str
) -> DeviceConnection:
    name = tunnel.interface.replace(" ", "")  # the connection is its interface: tunnel1
    profile = _profile_of(tree, tunnel.map_name)
    identity = _identity(profile) or tunnel.local_address or own_address
    local_ts, remote_ts = _selectors(tree, tunnel.map_name)
    child: dict[str, Any] = {
        "mode": "tunnel",
        "local_ts": local_ts,
        "remote_ts": remote_ts,
        "esp_proposals": _esp_proposals(tunnel),
        **_child_lifetime(tunnel.ipsec_lifetime),
        "start_action": "start" if tunnel.always_up else "trap",
    }
    body: dict[str, Any] = {
        "version": str(tunnel.ike_version),
        "local_addrs": [lab.of(tunnel.local_address or own_address)],
        "remote_addrs": [lab.of(tunnel.peer)],
        "proposals": _ike_proposals(tunnel),
        "aggressive": "yes" if tunnel.aggressive_mode else "no",
        "local": {"auth": "psk", "id": identity},
        "remote": {"auth": "psk", "id": "%any"},
        "children": {name: child},
        **_ike_lifetime(tunnel.ike_version, tunnel.ike_lifetime),
    }
    if tunnel.keepalive_interval:
        body["dpd_delay"] = f"{tunnel.keepalive_interval}s"
    if _ipsec_policy(tree, profile).child_value("set udp-encapsulation-force") is not None:
        body["encap"] = "yes"
    return DeviceConnection(
        name=name, body=body, psk_owners=(identity,), psk=tunnel.psk, tunnel=tunnel
    )


def _profile_of(tree: ConfigTree, map_name: str) -> Entry:
    crypto_map = tree.find(f"crypto map {map_name} ipsec-isakmp")
    assert crypto_map is not None  # read_tunnels resolved it
    profile = tree.find(f"crypto isakmp profile {crypto_map.child_value('set isakmp-profile')}")
    assert profile is not None
    return profile


def _ipsec_policy(tree: ConfigTree, profile: Entry) -> Entry:
    policy = tree.find(f"crypto ipsec policy {profile.child_value('set ipsec-policy')}")
    assert policy is not None  # read_tunnels resolved it
    return policy


def _selectors(tree: ConfigTree, map_name: str) -> tuple[list[str], list[str]]:
    """(local, remote) traffic selectors: the ``src``/``dst`` pairs of the map's selector."""
    crypto_map = tree.find(f"crypto map {map_name} ipsec-isakmp")
    name = crypto_map.child_value("match address") if crypto_map else None
    selector = tree.find(f"crypto ipsec selector {name}") if name else None
    sides: dict[str, list[str]] = {"src": [], "dst": []}
    if selector is not None:
        for line in selector.children:
            words = line.split()  # src 1 ipv4 any
            if len(words) != 4 or words[0] not in sides or words[2] != "ipv4":
                raise TranslationError(f"'{line}' in '{selector.header}' is not understood")
            sides[words[0]].append("0.0.0.0/0" if words[3] == "any" else words[3])
    return sides["src"] or ["0.0.0.0/0"], sides["dst"] or ["0.0.0.0/0"]


def _identity(profile: Entry) -> str:
    value = profile.child_value("self-identity")
    if not value:
        return ""
    kind, _, identity = value.partition(" ")
    if kind not in IDENTITY_PREFIX or not identity:
        raise TranslationError(f"'self-identity {value}' in '{profile.header}' is not understood")
    return IDENTITY_PREFIX[kind] + identity


def _ike_proposals(tunnel: DeviceTunnel) -> list[str]:
    if tunnel.ike_encryption not in vocab.ISAKMP_ENCRYPTIONS:
        raise TranslationError(f"{tunnel.interface}: encryption {tunnel.ike_encryption}")
    ciphers = _ciphers(CIPHER_BY_WORD[tunnel.ike_encryption], tunnel.ike_key_bits)
    group = _group(tunnel.dh_group, tunnel.interface)
    hashes = [_lookup(HASH_BY_WORD, h, tunnel.interface).swanctl for h in tunnel.ike_hashes]
    return [f"{c}-{h}-{group}" for c in ciphers for h in hashes]


def _esp_proposals(tunnel: DeviceTunnel) -> list[str]:
    cipher = _lookup(CIPHER_BY_ESP, tunnel.esp_encryption, tunnel.interface)
    ciphers = _ciphers(cipher, tunnel.esp_key_bits)
    auth = _lookup(HASH_BY_ESP, tunnel.esp_auth, tunnel.interface).swanctl
    pfs = f"-{_group(tunnel.pfs_group, tunnel.interface)}" if tunnel.pfs_group else ""
    return [f"{c}-{auth}{pfs}" for c in ciphers]


def _ciphers(cipher: Cipher, key_bits: tuple[int, ...]) -> list[str]:
    """One proposal keyword per key length offered (``aes128``, …), or the one keyword."""
    return [cipher.swanctl_name(bits) for bits in key_bits] if cipher.keyed else [cipher.swanctl]


def _group(group: int, where: str) -> str:
    return _lookup(DH_GROUP_BY_NUMBER, group, where).swanctl


def _lookup(table: Mapping[K, V], key: K, where: str) -> V:
    if key not in table:
        raise TranslationError(f"{where}: '{key}' has no strongSwan name")
    return table[key]


def _ike_lifetime(version: int, seconds: int) -> dict[str, str]:
    """An IKE SA lifetime of ``seconds`` as charon proposes it: renewal at 90 %, the rest
    ``over_time``.  IKEv1 Main Mode proposes ``reauth_time + over_time`` on the wire
    (IKEv1 SAs are re-authenticated, not rekeyed); IKEv2 does not negotiate lifetimes."""
    renew = seconds * 9 // 10
    over = {"over_time": f"{seconds - renew}s"}
    if version == 1:
        return {"reauth_time": f"{renew}s", "rekey_time": "0s", **over}
    return {"rekey_time": f"{renew}s", **over}


def _child_lifetime(seconds: int) -> dict[str, str]:
    """A CHILD_SA lifetime: Quick Mode proposes ``life_time``; charon renews at 90 %."""
    return {"life_time": f"{seconds}s", "rekey_time": f"{seconds * 9 // 10}s"}


# ---------------------------------------------------------------- the VPC router's side


def router_connections(
    settings: Mapping[str, Any], *, version: int, global_address: str, lab: LabAddresses
) -> list[Connection]:
    """One connection per ``SiteToSiteIPsecVPN.Config`` entry of the router's settings."""
    vpn = settings.get("Router", {}).get("SiteToSiteIPsecVPN") or {}
    if str(vpn.get("Enabled", "True")) != "True":
        return []
    ike_proposal, esp_proposal, ike_life, esp_life = _router_crypto(vpn, version)
    dpd = (vpn.get("IKE") or {}).get("DPD") or (V1_ROUTER_DPD if version < 2 else {})
    connections = []
    for entry in vpn.get("Config", []):
        peer = str(entry["Peer"])
        name = router_connection_name(peer)
        remote_id = str(entry.get("RemoteID") or peer)
        body: dict[str, Any] = {
            "version": "1",
            "local_addrs": [lab.of(global_address)],
            "remote_addrs": [lab.of(peer)],
            "proposals": [ike_proposal],
            "aggressive": "no",
            "local": {"auth": "psk", "id": global_address},
            "remote": {"auth": "psk", "id": remote_id},
            "children": {
                name: {
                    "mode": "tunnel",
                    "local_ts": ["0.0.0.0/0"],
                    "remote_ts": ["0.0.0.0/0"],
                    "esp_proposals": [esp_proposal],
                    **_child_lifetime(esp_life),
                    "start_action": "start",
                }
            },
            **_ike_lifetime(1, ike_life),
        }
        if dpd.get("Interval"):
            body["dpd_delay"] = f"{int(dpd['Interval'])}s"
            body["dpd_timeout"] = f"{int(dpd.get('Timeout') or 150)}s"
        connections.append(
            Connection(
                name=name,
                body=body,
                psk_owners=(global_address, remote_id),
                psk=str(entry.get("PreSharedSecret", "")),
            )
        )
    return connections


def _router_crypto(vpn: Mapping[str, Any], version: int) -> tuple[str, str, int, int]:
    """(IKE proposal, ESP proposal, IKE lifetime, ESP lifetime) of the router."""
    if version < 2:
        return V1_ROUTER_PROPOSAL, V1_ROUTER_PROPOSAL, *V1_ROUTER_LIFETIMES
    absent = [key for key in ("EncryptionAlgo", "HashAlgo", "DHGroup") if not vpn.get(key)]
    if absent:
        raise TranslationError(f"a version-2 router's settings lack {', '.join(absent)}")
    suite = f"{vpn['EncryptionAlgo']}-{vpn['HashAlgo']}-{vpn['DHGroup']}"
    ike_life = int((vpn.get("IKE") or {}).get("Lifetime") or V1_ROUTER_LIFETIMES[0])
    esp_life = int((vpn.get("ESP") or {}).get("Lifetime") or V1_ROUTER_LIFETIMES[1])
    return suite, suite, ike_life, esp_life
