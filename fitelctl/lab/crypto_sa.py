"""Print `show crypto sa` the way an F220 does, in both firmware formats (brief §4).

The ``ipsec`` format is the article's capture, field for field, keys in clear.
The ``ike_child`` format (newer firmware) adds an ``IKE_SA`` block and hides
the keys; its exact layout is ours (no public capture), documented in
``tests/parsers/furukawa_fitelnet/show_crypto_sa/ike_child_format_v2.raw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SaFormat = Literal["ipsec", "ike_child"]


@dataclass(frozen=True)
class IpsecSaView:
    interface: str
    peer_ip: str
    local_ip: str
    encryption: str
    authentication: str
    lifetime_left: int
    lifetime_total: int
    pfs_group: int | None
    in_spi: str
    out_spi: str
    in_packets: int
    in_octets: int
    out_packets: int
    out_octets: int
    in_cipher_key: str
    in_auth_key: str
    out_cipher_key: str
    out_auth_key: str
    selector: str = "0.0.0.0/0 ALL ALL <---> 0.0.0.0/0 ALL ALL"


@dataclass(frozen=True)
class IkeSaView:
    local_ip: str
    remote_ip: str
    local_id: str
    remote_id: str
    encryption: str
    hash: str
    dh_group: int
    modp_bits: int
    initiator_cookie: str
    responder_cookie: str
    lifetime_left: int
    lifetime_total: int
    dpd_interval: int | None


def render_crypto_sa(fmt: SaFormat, ike_sas: list[IkeSaView], ipsec_sas: list[IpsecSaView]) -> str:
    lines: list[str] = [""]
    if fmt == "ike_child":
        for ike in ike_sas:
            lines.extend(_ike_block(ike))
    for sa in ipsec_sas:
        lines.extend(_ipsec_block(sa, "CHILD_SA" if fmt == "ike_child" else "IPSEC SA", fmt))
    # The article's firmware reports no ISAKMP SA beside a live IPsec SA; the lab keeps that.
    isakmp_count = len(ike_sas) if fmt == "ike_child" else 0
    lines.append(f"  Total number of ISAKMP SA {isakmp_count}")
    lines.append(f"  Total number of IPSEC SA {len(ipsec_sas)}")
    return "\n".join(lines) + "\n"


def _ike_block(ike: IkeSaView) -> list[str]:
    dpd = f"on (interval {ike.dpd_interval} sec)" if ike.dpd_interval else "off"
    return [
        "  IKE_SA <I>",
        "    Mode : Main",
        f"    Local IP : {ike.local_ip}/500",
        f"    Remote IP : {ike.remote_ip}/500",
        f"    Local ID : {ike.local_id}",
        f"    Remote ID : {ike.remote_id}",
        "    Local authentication method : Pre-shared key",
        "    Remote authentication method : Pre-shared key",
        f"    Encryption algorithm : {ike.encryption}",
        f"    Hash algorithm : {ike.hash}",
        f"    Diffie-Hellman group : {ike.dh_group} (MODP {ike.modp_bits})",
        f"    Initiator cookie : 0x{ike.initiator_cookie}",
        f"    Responder cookie : 0x{ike.responder_cookie}",
        f"    Life time : {ike.lifetime_left}/{ike.lifetime_total} sec",
        f"    DPD : {dpd}",
        "",
    ]


def _ipsec_block(sa: IpsecSaView, title: str, fmt: SaFormat) -> list[str]:
    pfs = f"on (group {sa.pfs_group})" if sa.pfs_group else "off"
    with_keys = fmt == "ipsec"
    block = [
        f"  {title} <I>",
        "    Selector :",
        f"      {sa.selector}",
        f"    Interface : {sa.interface}",
        f"    Peer IP : {sa.peer_ip}/500",
        f"    Local IP : {sa.local_ip}/500",
        f"    Encryption algorithm : {sa.encryption}",
        f"    Authentication algorithm : {sa.authentication}",
        f"    Life time : {sa.lifetime_left}/{sa.lifetime_total} sec",
        f"    PFS : {pfs} ESN : off",
        "    IN",
        f"      SPI : {sa.in_spi}",
        f"      Packets       : {sa.in_packets}",
        f"      Octets        : {sa.in_octets}",
        "      Replay error  : 0",
        "      Auth error    : 0",
        "      Padding error : 0",
        "      Rule error    : 0",
    ]
    if with_keys:
        block += [
            f"      Cipher Key    : 0x{sa.in_cipher_key}",
            f"      Auth Key      : 0x{sa.in_auth_key}",
        ]
    block += [
        "    OUT",
        f"      SPI : {sa.out_spi}",
        f"      Packets       : {sa.out_packets}",
        f"      Octets        : {sa.out_octets}",
        "      Seq lapped    : 0",
    ]
    if with_keys:
        block += [
            f"      Cipher Key    : 0x{sa.out_cipher_key}",
            f"      Auth Key      : 0x{sa.out_auth_key}",
        ]
    return [*block, ""]
