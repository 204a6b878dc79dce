"""The F220-side charon's SAs (vici ``list-sas``) as the lines `show crypto sa` prints.

Pure: one IKE_SA dict as vici returns it (bytes values, CHILD_SAs inside), the device's
tunnel config and the lab's address map in; ``IkeSaView``/``IpsecSaView`` out.

What comes from charon: every algorithm, key length and DH group as negotiated, the IKE
cookies (``initiator-spi``/``responder-spi``), the CHILD_SA's SPIs, packet and byte
counters, and the ages the lifetimes count down from (``established``,
``install-time``); the inbound error counters come from charon's log (``esp_errors``:
vici reports none).  What charon does not tell, and the lab supplies: the total
lifetimes (the device's configured ones, which the F220 prints as the negotiated total;
charon proposes exactly these, see ``translate``) and the keys of the ``ipsec`` layout
(charon never exports them; the lab prints stand-ins derived from the SPI, so the lines
keep their shape and change with every rekey).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.algorithms import AES, DH_GROUP_BY_CHARON, HASH_BY_CHARON
from fitelctl.fitelnet.crypto_config import DeviceTunnel
from fitelctl.lab.crypto_sa import IkeSaView, IpsecSaView
from fitelctl.lab.strongswan.esp_errors import EspErrorCount, EspErrors
from fitelctl.lab.world import derived_hex


def vici_text(sa: Mapping[str, Any], key: str, default: str = "") -> str:
    """The value at ``key`` of a vici answer, decoded (vici's strings are bytes)."""
    value = sa.get(key)
    return value.decode() if isinstance(value, bytes) else default


def vici_number(sa: Mapping[str, Any], key: str) -> int:
    return int(vici_text(sa, key, "0") or 0)


def installed_children(ike_sa: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in ike_sa.get("child-sas", {}).values() if vici_text(c, "state") == "INSTALLED"]


def established(ike_sa: Mapping[str, Any]) -> bool:
    return vici_text(ike_sa, "state") == "ESTABLISHED"


def ike_view(
    ike_sa: Mapping[str, Any], tunnel: DeviceTunnel, config_address: Mapping[str, str]
) -> IkeSaView:
    """An ESTABLISHED IKE_SA as the device prints it; addresses as the configs name them."""
    total = tunnel.ike_lifetime
    group = DH_GROUP_BY_CHARON.get(vici_text(ike_sa, "dh-group"))
    integrity = vici_text(ike_sa, "integ-alg")
    hash_ = HASH_BY_CHARON.get(integrity)
    local_ip = _config(config_address, vici_text(ike_sa, "local-host"))
    return IkeSaView(
        local_ip=local_ip,
        remote_ip=_config(config_address, vici_text(ike_sa, "remote-host")),
        local_id=vici_text(ike_sa, "local-id"),
        remote_id=vici_text(ike_sa, "remote-id"),
        aes_bits=vici_number(ike_sa, "encr-keysize"),
        ike_hash=hash_.word if hash_ else integrity,
        dh_group=group.number if group else 0,
        modp_bits=group.modp_bits if group else 0,
        initiator_cookie=vici_text(ike_sa, "initiator-spi").rjust(16, "0"),
        responder_cookie=vici_text(ike_sa, "responder-spi").rjust(16, "0"),
        lifetime_left=max(0, total - vici_number(ike_sa, "established")),
        lifetime_total=total,
        dpd=tunnel.keepalive_interval is not None,
    )


def ipsec_view(
    ike_sa: Mapping[str, Any],
    child: Mapping[str, Any],
    tunnel: DeviceTunnel,
    config_address: Mapping[str, str],
    esp_errors: EspErrorCount | None = None,
) -> IpsecSaView:
    """An INSTALLED CHILD_SA as the device prints it, with the inbound errors
    ``esp_errors`` counted for it (none without)."""
    total = tunnel.ipsec_lifetime
    bits = vici_number(child, "encr-keysize")
    integrity = vici_text(child, "integ-alg")
    hash_ = HASH_BY_CHARON.get(integrity)
    group = DH_GROUP_BY_CHARON.get(vici_text(child, "dh-group"))
    in_spi, out_spi = vici_text(child, "spi-in"), vici_text(child, "spi-out")
    errors = esp_errors.of(in_spi) if esp_errors else EspErrors()
    key_bytes = hash_.bits // 8 if hash_ else 20

    def stand_in(label: str, spi: str, nbytes: int) -> str:
        return derived_hex(spi, label, 0, nbytes)

    return IpsecSaView(
        interface=tunnel.interface,
        peer_ip=_config(config_address, vici_text(ike_sa, "remote-host")),
        local_ip=_config(config_address, vici_text(ike_sa, "local-host")),
        encryption=vocab.device_encryption_name(bits)
        if vici_text(child, "encr-alg") == AES.charon
        else vici_text(child, "encr-alg").replace("_", "-"),
        authentication=hash_.show_crypto_sa if hash_ else integrity,
        lifetime_left=max(0, total - vici_number(child, "install-time")),
        lifetime_total=total,
        pfs_group=group.number if group else None,
        in_spi=in_spi,
        out_spi=out_spi,
        in_packets=vici_number(child, "packets-in"),
        in_octets=vici_number(child, "bytes-in"),
        out_packets=vici_number(child, "packets-out"),
        out_octets=vici_number(child, "bytes-out"),
        in_cipher_key=stand_in("in-ck", in_spi, max(bits, 64) // 8),
        in_auth_key=stand_in("in-ak", in_spi, key_bytes),
        out_cipher_key=stand_in("out-ck", out_spi, max(bits, 64) // 8),
        out_auth_key=stand_in("out-ak", out_spi, key_bytes),
        in_replay_errors=errors.replay,
        in_auth_errors=errors.auth,
        in_padding_errors=errors.padding,
        in_rule_errors=errors.rule,
    )


def _config(config_address: Mapping[str, str], lab_address: str) -> str:
    return config_address.get(lab_address, lab_address)
