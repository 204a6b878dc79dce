"""Generate a site's FITELnet IPsec configuration from the inventory (pure, no I/O).

The layout and order follow the source article's working config
(docs/domain.md#the-source-article) line for line (global
SA lifetime, ipsec policy, selector, isakmp policy, isakmp profile, crypto map),
then what the article left out: the tunnel interface bound to the map and the
routes into it.  Nothing outside ``fitelnet.vocabulary`` is emitted
(docs/domain.md#ipsec-configuration-vocabulary); keysize lines
appear only when the inventory pins a key length.
"""

from __future__ import annotations

from fitelctl.fitelnet.config_tree import ConfigTree, Entry
from fitelctl.inventory.tunnel import Cloud, Crypto, Selector, Tunnel


def psk_placeholder(tunnel: Tunnel) -> str:
    """Stands in for the PSK when secrets are not shown (says where it comes from)."""
    return f"<secret:{tunnel.psk}>"


def render_tunnel(tunnel: Tunnel, cloud: Cloud, psk: str | None) -> ConfigTree:
    """The managed part of the device config; ``psk=None`` renders a placeholder."""
    crypto = tunnel.resolved_crypto()
    name = tunnel.name
    entries = [
        Entry(f"crypto ipsec security-association lifetime seconds {crypto.global_ipsec_lifetime}"),
        Entry(f"crypto ipsec policy {name}", _ipsec_policy(crypto), is_block=True),
        Entry(f"crypto ipsec selector {name}", _selectors(tunnel.selectors), is_block=True),
        Entry(f"crypto isakmp policy {name}", _isakmp_policy(crypto), is_block=True),
        Entry(
            f"crypto isakmp profile {name}",
            _isakmp_profile(tunnel, cloud, crypto, psk or psk_placeholder(tunnel)),
            is_block=True,
        ),
        Entry(
            f"crypto map {name} ipsec-isakmp",
            [f"match address {name}", f"set isakmp-profile {name}"],
            is_block=True,
        ),
        Entry(
            f"interface Tunnel {tunnel.interface}",
            [f"tunnel mode ipsec map {name}"],
            is_block=True,
        ),
        *(Entry(f"ip route {route} tunnel {tunnel.interface}") for route in tunnel.routes),
    ]
    return ConfigTree(entries)


def _keysize(prefix: str, size: tuple[int, int, int] | None) -> list[str]:
    return [f"{prefix} aes {size[0]} {size[1]} {size[2]}"] if size else []


def _ipsec_policy(crypto: Crypto) -> list[str]:
    lines = [f"set pfs group{crypto.pfs_group}"] if crypto.pfs_group else []
    return [
        *lines,
        "set security-association always-up",
        f"set security-association lifetime seconds {crypto.ipsec_lifetime}",
        *_keysize("set security-association transform-keysize", crypto.esp_key_size),
        f"set security-association transform {' '.join(crypto.esp_transform)}",
        "set ip df-bit 0",
        "set ip fragment post",
    ]


def _selectors(selectors: list[Selector]) -> list[str]:
    def side(value: str) -> str:
        return "any" if value == "any" else value

    lines: list[str] = []
    for number, selector in enumerate(selectors, start=1):
        lines.append(f"src {number} ipv4 {side(selector.src)}")
        lines.append(f"dst {number} ipv4 {side(selector.dst)}")
    return lines


def _isakmp_policy(crypto: Crypto) -> list[str]:
    return [
        "authentication pre-share",
        f"encryption {crypto.ike_encryption}",
        *_keysize("encryption-keysize", crypto.ike_key_size),
        f"group {crypto.dh_group}",
        f"lifetime {crypto.ike_lifetime}",
        f"hash {crypto.ike_hash}",
    ]


def _isakmp_profile(tunnel: Tunnel, cloud: Cloud, crypto: Crypto, psk: str) -> list[str]:
    return [
        f"local-address {tunnel.wan_address}",
        f"keepalive interval {crypto.keepalive_interval} always-send",
        f"self-identity address {tunnel.identity}",
        f"set isakmp-policy {tunnel.name}",
        f"set ipsec-policy {tunnel.name}",
        f"set peer {cloud.global_address}",
        f"ike-version {crypto.ike_version}",
        f"local-key {psk}",
    ]


def render_text(tree: ConfigTree) -> str:
    """Config text in the article's layout (``!`` between entries, none after the last)."""
    return tree.render().removesuffix("!\n")
