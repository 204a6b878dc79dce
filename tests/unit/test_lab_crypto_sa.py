"""The lab's ``ike_child`` `show crypto sa` has the published F220 V01.11 layout, line for
line (labels, indentation, order), and the names it prints follow the negotiated proposal."""

from __future__ import annotations

import pytest
from conftest import ROOT

from fitelctl.lab.crypto_sa import IkeSaView, IpsecSaView, render_crypto_sa
from fitelctl.parsing import parse_crypto_sa

PUBLISHED = (
    ROOT / "tests/parsers/furukawa_fitelnet/show_crypto_sa/f220_v01_11_cloudflare_dh14.raw"
).read_text()


def _skeleton(text: str) -> list[str]:
    """Each line without its value: what is left of `` : `` (and the whole line otherwise)."""
    lines = [line.partition(" : ")[0] for line in text.splitlines()]
    return [line for line in lines if "<--->" not in line and line.strip() != "show crypto sa"]


def ike(**changes: object) -> IkeSaView:
    values: dict[str, object] = dict(
        local_ip="203.0.113.10", remote_ip="198.51.100.1", local_id="203.0.113.10",
        remote_id="198.51.100.1", aes_bits=256, ike_hash="sha-256", dh_group=14, modp_bits=2048,
        initiator_cookie="0123456789abcdef", responder_cookie="fedcba9876543210",
        lifetime_left=6852, lifetime_total=14400, dpd=True,
    )  # fmt: skip
    values.update(changes)
    return IkeSaView(**values)  # type: ignore[arg-type]


def child(**changes: object) -> IpsecSaView:
    values: dict[str, object] = dict(
        interface="tunnel 1", peer_ip="198.51.100.1", local_ip="203.0.113.10",
        encryption="AES-CBC/256", authentication="HMAC-SHA2-256-128/256", lifetime_left=22868,
        lifetime_total=28800, pfs_group=None, in_spi="eeeeeeee", out_spi="ffffffff",
        in_packets=0, in_octets=0, out_packets=0, out_octets=0, in_cipher_key="00" * 32,
        in_auth_key="11" * 32, out_cipher_key="22" * 32, out_auth_key="33" * 32,
    )  # fmt: skip
    values.update(changes)
    return IpsecSaView(**values)  # type: ignore[arg-type]


def test_ike_child_layout_is_the_published_one() -> None:
    text = render_crypto_sa("ike_child", [ike()], [child()])
    assert _skeleton(text) == _skeleton(PUBLISHED)
    table = parse_crypto_sa(text)
    (sa,) = table.ike_sas
    assert (sa.encryption, sa.hash, sa.dh_group, sa.dh_group_size) == (
        "aes256-cbc",
        "hmac-sha256-128",
        14,
        "2048 bits",
    )
    assert (sa.initiator_cookie, sa.dpd, sa.local_id_type) == ("01234567 89abcdef", "on", "ipv4")
    assert table.ipsec_sas[0].authentication == "HMAC-SHA2-256"
    assert "Key" not in text and table.warnings == []


@pytest.mark.parametrize(
    ("view", "line"),
    [
        (ike(aes_bits=128, ike_hash="sha"), "Encryption algorithm : aes128-cbc"),
        (ike(aes_bits=128, ike_hash="sha"), "Hash algorithm : hmac-sha1-96"),
        (ike(dh_group=20, modp_bits=0), "Diffie-Hellman group : 20\n"),
        (ike(dpd=False), "DPD : off"),
        (ike(local_id="branch.example.jp"), "Local ID : branch.example.jp (fqdn)"),
    ],
)
def test_names_follow_the_negotiated_proposal(view: IkeSaView, line: str) -> None:
    assert line in render_crypto_sa("ike_child", [view], [child()])


def test_old_format_names_and_keys_are_kept() -> None:
    text = render_crypto_sa("ipsec", [ike()], [child(authentication="HMAC-SHA1-96/160")])
    assert "IKE_SA" not in text and "HMAC-SHA1-96/160" in text and "Cipher Key" in text
    new = render_crypto_sa("ike_child", [ike()], [child(authentication="HMAC-SHA1-96/160")])
    assert "Authentication algorithm : HMAC-SHA1\n" in new


def test_each_ike_sa_is_printed_once_before_its_children() -> None:
    other = ike(remote_ip="192.0.2.9", remote_id="192.0.2.9")
    text = render_crypto_sa(
        "ike_child", [ike(), other], [child(), child(interface="tunnel 2", peer_ip="192.0.2.9")]
    )
    assert text.count("  IKE_SA\n") == 2
    table = parse_crypto_sa(text)
    assert [sa.ike_sa_index for sa in table.ipsec_sas] == [0, 1]
    assert (table.isakmp_sa_count, table.ipsec_sa_count) == (2, 2)
