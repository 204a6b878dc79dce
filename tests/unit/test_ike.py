"""The negotiation model: which settings link up, and the reason when they do not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fitelctl.fitelnet import algorithms
from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import BrokenTunnel, DeviceTunnel, read_tunnels
from fitelctl.ike import CloudPeer, negotiate
from fitelctl.lab.scenarios import device_config, site_addresses

TOKYO = site_addresses(0)


def tokyo_tunnel(crypto: str = "v1", psk: str = "k") -> DeviceTunnel:
    (tunnel,) = read_tunnels(ConfigTree.parse(device_config(TOKYO, crypto, psk)))  # type: ignore[arg-type]
    assert isinstance(tunnel, DeviceTunnel)
    return tunnel


def router(version: int, **kw: object) -> CloudPeer:
    base = CloudPeer(
        router_version=version,
        router_up=True,
        global_address="27.133.132.134",
        peer="126.169.118.242",
        remote_id="172.30.128.254",
        psk="k",
        encryption_algo="aes256",
        hash_algo="sha256",
        dh_group="modp2048",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def run(device: DeviceTunnel, cloud: CloudPeer) -> str:
    return negotiate(device, cloud, device_public_address="126.169.118.242").cause


def test_article_v1_config_reads_back_as_offered() -> None:
    tunnel = tokyo_tunnel()
    assert (tunnel.interface, tunnel.peer, tunnel.self_identity) == (
        "tunnel 1",
        "27.133.132.134",
        "172.30.128.254",
    )
    assert (tunnel.ike_hash, tunnel.dh_group, tunnel.pfs_group) == ("sha", 5, 5)
    assert tunnel.ike_key_bits == (128, 192, 256)
    assert tunnel.ipsec_lifetime == 1800 and tunnel.esp_auth == "esp-sha-hmac"


def test_v1_router_links_with_article_v1_config_at_aes128() -> None:
    outcome = negotiate(tokyo_tunnel(), router(1), device_public_address="126.169.118.242")
    assert outcome.up and outcome.esp_aes_bits == 128


def test_v2_router_refuses_v1_config_in_main_mode() -> None:
    assert run(tokyo_tunnel(), router(2)) == "proposal_mismatch_main_mode"


def test_v2_router_links_with_article_v2_config_at_aes256() -> None:
    outcome = negotiate(tokyo_tunnel("v2"), router(2), device_public_address="126.169.118.242")
    assert outcome.up and outcome.esp_aes_bits == 256 and outcome.ipsec_lifetime == 180


def test_v1_router_refuses_documented_v2_parameters() -> None:
    assert run(tokyo_tunnel("v2"), router(1)) == "proposal_mismatch_main_mode"


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"psk": "other"}, "psk_mismatch"),
        ({"remote_id": "10.0.0.1"}, "id_mismatch"),
        ({"peer": "198.51.100.7"}, "id_mismatch"),
        ({"router_up": False}, "router_down"),
        ({"global_address": "198.51.100.1"}, "no_response"),
    ],
)
def test_failure_causes(change: dict[str, object], cause: str) -> None:
    assert run(tokyo_tunnel("v2"), router(2, **change)) == cause


def test_pfs_mismatch_fails_in_quick_mode() -> None:
    assert (
        run(replace(tokyo_tunnel("v2"), pfs_group=5), router(2)) == "proposal_mismatch_quick_mode"
    )


def test_esp_integrity_mismatch_fails_in_quick_mode() -> None:
    device = replace(tokyo_tunnel("v2"), esp_auth="esp-sha-hmac")
    assert run(device, router(2)) == "proposal_mismatch_quick_mode"


def test_pinned_keysize_that_excludes_256_fails_main_mode() -> None:
    assert run(replace(tokyo_tunnel("v2"), ike_key_bits=(128,)), router(2)) == (
        "proposal_mismatch_main_mode"
    )


def test_broken_reference_chain_is_reported() -> None:
    text = device_config(TOKYO, "v1", "k").replace(" set isakmp-profile sakuratokyo\n", "")
    (broken,) = read_tunnels(ConfigTree.parse(text))
    assert isinstance(broken, BrokenTunnel) and "set isakmp-profile" in broken.reason


def test_every_fitelnet_algorithm_has_one_strongswan_name_and_reads_back() -> None:
    """One table serves both directions: no two FITELnet names share a strongSwan one."""
    names = [
        [cipher.charon for cipher in algorithms.CIPHERS],
        [hash_.charon_integrity for hash_ in algorithms.HASHES],
        [hash_.charon_prf for hash_ in algorithms.HASHES],
        [group.charon for group in algorithms.DH_GROUPS],
    ]
    for table in names:
        assert len(set(table)) == len(table)


# What the real charons of the interop suite showed (tests/interop/test_conformance.py):


def test_without_self_identity_the_f220_presents_its_local_address() -> None:
    tunnel = replace(tokyo_tunnel(), self_identity="")
    assert tunnel.local_address == "172.30.128.254"
    assert run(tunnel, router(1)) == "ok"
    assert run(tunnel, router(1, remote_id="126.169.118.242")) == "id_mismatch"


def test_without_self_identity_or_local_address_it_presents_the_office_address() -> None:
    tunnel = replace(tokyo_tunnel(), self_identity="", local_address="")
    assert run(tunnel, router(1, remote_id="126.169.118.242")) == "ok"


def test_any_of_several_offered_hashes_may_be_the_one_the_router_wants() -> None:
    tunnel = replace(tokyo_tunnel(), ike_hash="sha-256 sha")
    assert tunnel.ike_hashes == ("sha-256", "sha")
    assert run(tunnel, router(1)) == "ok"
    assert run(replace(tunnel, ike_hash="sha-256 md5"), router(1)) == "proposal_mismatch_main_mode"


def test_aggressive_mode_is_refused_in_phase_one_whatever_else_matches() -> None:
    config = device_config(TOKYO, "v1", "k").replace(
        " group 5", " initiate-mode aggressive\n group 5"
    )
    (tunnel,) = read_tunnels(ConfigTree.parse(config))
    assert isinstance(tunnel, DeviceTunnel) and tunnel.aggressive_mode
    assert run(tunnel, router(1)) == "proposal_mismatch_main_mode"


def test_ike_version_2_is_refused_before_the_router_looks_for_a_peer_entry() -> None:
    tunnel = replace(tokyo_tunnel(), ike_version=2)
    assert run(tunnel, router(1, peer="203.0.113.77")) == "proposal_mismatch_main_mode"
