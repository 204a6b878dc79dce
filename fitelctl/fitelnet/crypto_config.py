"""Read a FITELnet config's IPsec tunnels into typed values.

Follows the references the device follows: ``interface Tunnel N`` →
``tunnel mode ipsec map M`` → ``crypto map M`` → ``set isakmp-profile P`` →
``crypto isakmp profile P`` → its isakmp and ipsec policies.  A tunnel whose
chain is broken is reported with the missing link, not silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.config_tree import ConfigTree, Entry


@dataclass(frozen=True)
class DeviceTunnel:
    """What one F220 tunnel offers and who it claims to be."""

    interface: str  # "tunnel 1"
    map_name: str
    ike_version: int
    ike_encryption: str  # "aes"
    ike_key_bits: tuple[int, ...]
    ike_hash: str  # "sha", "sha-256", ...
    dh_group: int
    ike_lifetime: int
    esp_encryption: str  # "esp-aes"
    esp_key_bits: tuple[int, ...]
    esp_auth: str  # "esp-sha-hmac", ...
    pfs_group: int | None
    ipsec_lifetime: int
    always_up: bool
    local_address: str
    self_identity: str
    peer: str
    psk: str
    keepalive_interval: int | None
    aggressive_mode: bool = False  # ``initiate-mode aggressive`` (main is the default)

    @property
    def ike_hashes(self) -> tuple[str, ...]:
        """The hashes offered: ``hash`` may list several (``hash sha sha-256``)."""
        return tuple(self.ike_hash.split())


@dataclass(frozen=True)
class BrokenTunnel:
    interface: str
    reason: str


def read_tunnels(config: ConfigTree) -> list[DeviceTunnel | BrokenTunnel]:
    """Every tunnel interface bound to an IPsec map, resolved to its settings."""
    tunnels: list[DeviceTunnel | BrokenTunnel] = []
    for iface in config.blocks("interface"):
        mode = iface.child_value("tunnel mode ipsec map")
        if mode is None:
            continue
        name = _interface_label(iface.header)
        try:
            tunnels.append(_resolve(config, name, mode))
        except _Missing as missing:
            tunnels.append(BrokenTunnel(interface=name, reason=str(missing)))
    return tunnels


def objects_of_other_tunnels(
    config: ConfigTree, *, interface: int, map_name: str
) -> dict[str, str]:
    """Block headers that tunnels other than ``interface Tunnel N`` → ``map_name`` use.

    Maps each header to who uses it (``interface Tunnel 2 (tunnel mode ipsec map
    MAP1)``).  Our own ``interface Tunnel N`` counts as another's when it is already
    bound to something else (another map, or another tunnel mode such as ``srv6``).
    An IPsec policy with no lifetime of its own runs on the global default, so that
    tunnel also uses ``crypto ipsec security-association lifetime seconds`` (the key,
    without a value).  Broken chains are followed as far as they go.
    """
    owners: dict[str, str] = {}
    for iface in config.blocks("interface Tunnel"):
        mode = iface.child_value("tunnel mode")
        if mode is None or (
            iface.header.split() == ["interface", "Tunnel", str(interface)]
            and mode.split() == ["ipsec", "map", map_name]
        ):
            continue
        owner = f"{iface.header} (tunnel mode {mode})"
        owners.setdefault(iface.header, owner)
        words = mode.split()
        if words[:2] == ["ipsec", "map"] and len(words) == 3:
            for header in _chain(config, words[2]):
                owners.setdefault(header, owner)
                policy = config.find(header) if header.startswith("crypto ipsec policy") else None
                if policy and policy.child_value(_POLICY_LIFETIME) is None:
                    owners.setdefault(
                        GLOBAL_IPSEC_LIFETIME,
                        f"{owner}, whose '{header}' has no '{_POLICY_LIFETIME}' of its own",
                    )
    return owners


#: The global IPsec SA lifetime line, without its value.
GLOBAL_IPSEC_LIFETIME = "crypto ipsec security-association lifetime seconds"
_POLICY_LIFETIME = "set security-association lifetime seconds"


def _chain(config: ConfigTree, map_name: str) -> list[str]:
    """Headers of the map, its selector, profile and policies that exist in ``config``."""
    headers: list[str] = []
    crypto_map = config.find(f"crypto map {map_name} ipsec-isakmp")
    if crypto_map is None:
        return headers
    headers.append(crypto_map.header)
    selector = crypto_map.child_value("match address")
    if selector:
        headers.append(f"crypto ipsec selector {selector}")
    profile = config.find(f"crypto isakmp profile {crypto_map.child_value('set isakmp-profile')}")
    if profile is None:
        return headers
    headers.append(profile.header)
    for prefix, kind in (("set isakmp-policy", "isakmp"), ("set ipsec-policy", "ipsec")):
        name = profile.child_value(prefix)
        if name:
            headers.append(f"crypto {kind} policy {name}")
    return headers


class _Missing(Exception):
    pass


def _interface_label(header: str) -> str:
    """``interface Tunnel 1`` → ``tunnel 1`` (as `show crypto sa` prints it)."""
    return header.removeprefix("interface ").lower()


def _need(config: ConfigTree, header: str) -> Entry:
    entry = config.find(header)
    if entry is None:
        raise _Missing(f"'{header}' is referenced but not configured")
    return entry


def _need_value(entry: Entry, prefix: str) -> str:
    value = entry.child_value(prefix)
    if value is None:
        raise _Missing(f"'{entry.header}' has no '{prefix}'")
    return value


def _keysize(value: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """``aes MIN MAX DEFAULT`` → the offered key lengths, in preference order."""
    if value is None:
        return default
    _, low, high, preferred = value.split()
    sizes = [b for b in vocab.AES_KEY_BITS if int(low) <= b <= int(high)]
    return (int(preferred), *[b for b in sizes if b != int(preferred)])


def _global_ipsec_lifetime(config: ConfigTree) -> int:
    entry = config.find_prefix(GLOBAL_IPSEC_LIFETIME)
    if entry is None:
        return vocab.DEFAULT_IPSEC_LIFETIME
    return int(entry.header.split()[-1])


def _resolve(config: ConfigTree, interface: str, map_name: str) -> DeviceTunnel:
    crypto_map = _need(config, f"crypto map {map_name} ipsec-isakmp")
    profile = _need(
        config, f"crypto isakmp profile {_need_value(crypto_map, 'set isakmp-profile')}"
    )
    isakmp = _need(config, f"crypto isakmp policy {_need_value(profile, 'set isakmp-policy')}")
    ipsec = _need(config, f"crypto ipsec policy {_need_value(profile, 'set ipsec-policy')}")

    transform = _need_value(ipsec, "set security-association transform").split()
    esp_encryption = next((t for t in transform if t in vocab.ESP_ENCRYPTIONS), "")
    esp_auth = next((t for t in transform if t in vocab.ESP_AUTHS), "")
    pfs = ipsec.child_value("set pfs")
    lifetime = ipsec.child_value("set security-association lifetime seconds")
    keepalive = profile.child_value("keepalive interval")
    identity = profile.child_value("self-identity") or ""
    local_key = _need_value(profile, "local-key").split()
    return DeviceTunnel(
        interface=interface,
        map_name=map_name,
        ike_version=int(profile.child_value("ike-version") or "1"),
        ike_encryption=_need_value(isakmp, "encryption"),
        ike_key_bits=_keysize(isakmp.child_value("encryption-keysize"), vocab.DEFAULT_AES_KEY_BITS),
        ike_hash=_need_value(isakmp, "hash"),
        dh_group=int(_need_value(isakmp, "group")),
        ike_lifetime=int(isakmp.child_value("lifetime") or vocab.DEFAULT_ISAKMP_LIFETIME),
        esp_encryption=esp_encryption,
        esp_key_bits=_keysize(
            ipsec.child_value("set security-association transform-keysize"),
            vocab.DEFAULT_AES_KEY_BITS,
        ),
        esp_auth=esp_auth,
        pfs_group=int(pfs.removeprefix("group")) if pfs else None,
        ipsec_lifetime=int(lifetime) if lifetime else _global_ipsec_lifetime(config),
        always_up=ipsec.child_value("set security-association always-up") is not None,
        local_address=profile.child_value("local-address") or "",
        self_identity=identity.split()[-1] if identity else "",
        peer=_need_value(profile, "set peer"),
        psk=local_key[-1],
        keepalive_interval=int(keepalive.split()[0]) if keepalive else None,
        aggressive_mode=isakmp.child_value("initiate-mode") == "aggressive",
    )
