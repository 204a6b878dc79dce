"""The F220-side charon's SAs (vici ``list-sas``) as the lines `show crypto sa` prints.

Pure: one IKE_SA dict as vici returns it (bytes values, CHILD_SAs inside), the device's
tunnel config and the lab's address map in; ``IkeSaView``/``IpsecSaView`` out.

What comes from charon: every algorithm, key length and DH group as negotiated, the IKE
cookies (``initiator-spi``/``responder-spi``), the CHILD_SA's SPIs, packet and byte
counters, and the ages the lifetimes count down from (``established``,
``install-time``).  What charon does not tell over vici, and the lab supplies: the
total lifetimes (the device's configured ones, which the F220 prints as the negotiated
total; charon proposes exactly these, see ``translate``), the error counters (always 0:
kernel-libipsec keeps none that vici reports), and the keys of the ``ipsec`` layout
(charon never exports them; the lab prints stand-ins derived from the SPI, so the lines
keep their shape and change with every rekey).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.crypto_config import DeviceTunnel
from fitelctl.ike import STRONGSWAN_GROUPS, STRONGSWAN_INTEGRITY
from fitelctl.lab.crypto_sa import IkeSaView, IpsecSaView
from fitelctl.lab.world import derived_hex

#: charon's names back to the F220's keywords
_HASH_KEYWORD = {name: keyword for keyword, name in STRONGSWAN_INTEGRITY.items()}
_GROUP_NUMBER = {name: group for group, name in STRONGSWAN_GROUPS.items()}
_ESP_AUTH_KEYWORD = {hash_: auth for auth, hash_ in vocab.ESP_AUTH_TO_HASH.items()}


def _text(sa: Mapping[str, Any], key: str, default: str = "") -> str:
    value = sa.get(key)
    return value.decode() if isinstance(value, bytes) else default


def _number(sa: Mapping[str, Any], key: str) -> int:
    return int(_text(sa, key, "0") or 0)


def installed_children(ike_sa: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in ike_sa.get("child-sas", {}).values() if _text(c, "state") == "INSTALLED"]


def established(ike_sa: Mapping[str, Any]) -> bool:
    return _text(ike_sa, "state") == "ESTABLISHED"


def ike_view(
    ike_sa: Mapping[str, Any], tunnel: DeviceTunnel, config_address: Mapping[str, str]
) -> IkeSaView:
    """An ESTABLISHED IKE_SA as the device prints it; addresses as the configs name them."""
    total = tunnel.ike_lifetime
    group = _GROUP_NUMBER.get(_text(ike_sa, "dh-group"), 0)
    local_ip = _config(config_address, _text(ike_sa, "local-host"))
    return IkeSaView(
        local_ip=local_ip,
        remote_ip=_config(config_address, _text(ike_sa, "remote-host")),
        local_id=_text(ike_sa, "local-id"),
        remote_id=_text(ike_sa, "remote-id"),
        aes_bits=_number(ike_sa, "encr-keysize"),
        ike_hash=_HASH_KEYWORD.get(_text(ike_sa, "integ-alg"), _text(ike_sa, "integ-alg")),
        dh_group=group,
        modp_bits=vocab.MODP_BITS.get(group, 0),
        initiator_cookie=_text(ike_sa, "initiator-spi").rjust(16, "0"),
        responder_cookie=_text(ike_sa, "responder-spi").rjust(16, "0"),
        lifetime_left=max(0, total - _number(ike_sa, "established")),
        lifetime_total=total,
        dpd=tunnel.keepalive_interval is not None,
    )


def ipsec_view(
    ike_sa: Mapping[str, Any],
    child: Mapping[str, Any],
    tunnel: DeviceTunnel,
    config_address: Mapping[str, str],
) -> IpsecSaView:
    """An INSTALLED CHILD_SA as the device prints it."""
    total = tunnel.ipsec_lifetime
    bits = _number(child, "encr-keysize")
    integrity = _text(child, "integ-alg")
    esp_auth = _ESP_AUTH_KEYWORD.get(_HASH_KEYWORD.get(integrity, ""), "")
    group = _GROUP_NUMBER.get(_text(child, "dh-group"))
    in_spi, out_spi = _text(child, "spi-in"), _text(child, "spi-out")
    key_bytes = vocab.HASH_BITS[vocab.ESP_AUTH_TO_HASH[esp_auth]] // 8 if esp_auth else 20

    def stand_in(label: str, spi: str, nbytes: int) -> str:
        return derived_hex(spi, label, 0, nbytes)

    return IpsecSaView(
        interface=tunnel.interface,
        peer_ip=_config(config_address, _text(ike_sa, "remote-host")),
        local_ip=_config(config_address, _text(ike_sa, "local-host")),
        encryption=vocab.device_encryption_name(bits)
        if _text(child, "encr-alg") == "AES_CBC"
        else _text(child, "encr-alg").replace("_", "-"),
        authentication=vocab.device_authentication_name(esp_auth) if esp_auth else integrity,
        lifetime_left=max(0, total - _number(child, "install-time")),
        lifetime_total=total,
        pfs_group=group,
        in_spi=in_spi,
        out_spi=out_spi,
        in_packets=_number(child, "packets-in"),
        in_octets=_number(child, "bytes-in"),
        out_packets=_number(child, "packets-out"),
        out_octets=_number(child, "bytes-out"),
        in_cipher_key=stand_in("in-ck", in_spi, max(bits, 64) // 8),
        in_auth_key=stand_in("in-ak", in_spi, key_bytes),
        out_cipher_key=stand_in("out-ck", out_spi, max(bits, 64) // 8),
        out_auth_key=stand_in("out-ak", out_spi, key_bytes),
    )


def _config(config_address: Mapping[str, str], lab_address: str) -> str:
    return config_address.get(lab_address, lab_address)
