"""The lab world: tunnels follow both sides' settings; `show crypto sa` moves like a device's."""

from __future__ import annotations

from pathlib import Path

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.lab.crypto_sa import SaFormat
from fitelctl.lab.device.editing import replay_config
from fitelctl.lab.device.model import DeviceSpec, LabDevice
from fitelctl.lab.scenarios import VPC_ROUTER_ADDRESS, DeviceCrypto, device_config, site_addresses
from fitelctl.lab.world import LabWorld, PeerEntry, VpcRouter
from fitelctl.parsing import parse_crypto_sa

TOKYO = site_addresses(0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_world(
    *,
    version: int,
    crypto: DeviceCrypto,
    sa_format: SaFormat = "ipsec",
    psk_cloud: str = "psk",
    boot_config: str | None = None,
) -> tuple[LabWorld, LabDevice, Clock]:
    clock = Clock()
    world = LabWorld(clock=clock)
    router = VpcRouter(
        VPC_ROUTER_ADDRESS,
        version,
        encryption_algo="aes256",
        hash_algo="sha256",
        dh_group="modp2048",
    )
    router.peers.append(PeerEntry(TOKYO.public, TOKYO.wan, psk_cloud))
    world.add_router(router)
    spec = DeviceSpec(
        site="tokyo",
        hostname="tokyo",
        username="u",
        password="p",
        enable_password="e",
        sa_format=sa_format,
        boot_config=boot_config or device_config(TOKYO, crypto, "psk"),
    )
    device = LabDevice(spec)
    world.add_site(device, public_address=TOKYO.public)
    return world, device, clock


def test_seed_v1_shows_the_articles_sa_shape() -> None:
    world, _, _ = make_world(version=1, crypto="v1")
    table = parse_crypto_sa(world.show_crypto_sa("tokyo"), show_secrets=True)
    (sa,) = table.ipsec_sas
    assert (sa.peer_ip, sa.local_ip, sa.interface) == (VPC_ROUTER_ADDRESS, TOKYO.wan, "tunnel 1")
    assert (sa.encryption, sa.authentication, sa.pfs_group) == (
        "AES-CBC/128",
        "HMAC-SHA1-96/160",
        5,
    )
    assert (sa.lifetime_remaining, sa.lifetime_total) == (1800, 1800)
    assert sa.in_cipher_key and len(sa.in_cipher_key) == 2 + 32  # 0x + 128-bit key
    assert (table.isakmp_sa_count, table.ipsec_sa_count) == (0, 1)


def test_v2_router_with_v1_device_has_no_sa() -> None:
    world, _, _ = make_world(version=2, crypto="v1")
    table = parse_crypto_sa(world.show_crypto_sa("tokyo"))
    assert table.ipsec_sa_count == 0 and table.ipsec_sas == []


def test_newer_firmware_prints_ike_and_child_sas_without_keys() -> None:
    world, _, _ = make_world(version=2, crypto="v2", sa_format="ike_child")
    text = world.show_crypto_sa("tokyo")
    assert "Cipher Key" not in text and "CHILD_SA <I>" in text
    table = parse_crypto_sa(text)
    (ike,) = table.ike_sas
    (child,) = table.ipsec_sas
    assert (ike.encryption, ike.hash, ike.dh_group, ike.local_id) == (
        "aes256-cbc",
        "hmac-sha256-128",
        14,
        TOKYO.wan,
    )
    assert (child.encryption, child.authentication, child.pfs_group) == (
        "AES-CBC/256",
        "HMAC-SHA2-256",
        14,
    )
    assert child.ike_sa_index == 0
    assert child.lifetime_total == 180
    assert (table.isakmp_sa_count, table.ipsec_sa_count) == (1, 1)


def test_lifetime_counts_down_counters_grow_and_expiry_rekeys() -> None:
    world, _, clock = make_world(version=2, crypto="v2")
    first = parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sas[0]
    clock.now += 60
    later = parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sas[0]
    assert later.lifetime_remaining == first.lifetime_remaining - 60
    assert later.out_packets > first.out_packets and later.in_packets > first.in_packets
    assert later.in_spi == first.in_spi
    clock.now += 180
    rekeyed = parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sas[0]
    assert rekeyed.in_spi != first.in_spi and rekeyed.out_spi != first.out_spi


def test_clear_crypto_sa_renegotiates_with_new_spis() -> None:
    world, _, _ = make_world(version=1, crypto="v1")
    before = parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sas[0]
    world.clear_crypto_sa("tokyo")
    after = parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sas[0]
    assert after.in_spi != before.in_spi


def test_committing_the_v2_changes_brings_the_pending_tunnel_up() -> None:
    world, device, _ = make_world(version=2, crypto="v1")
    device.working = replay_config(device_config(TOKYO, "v2", "psk"))
    device.commit()
    (sa,) = parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sas
    assert sa.encryption == "AES-CBC/256"


def test_wrong_psk_keeps_the_tunnel_down() -> None:
    world, _, _ = make_world(version=2, crypto="v2", psk_cloud="other")
    assert parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sa_count == 0
    assert [o.cause for o in world.outcome("tokyo")] == ["psk_mismatch"]


def test_config_without_crypto_has_no_tunnel() -> None:
    world, device, _ = make_world(version=2, crypto="none")
    assert world.outcome("tokyo") == []
    assert ConfigTree.parse(device.current_config()).find("hostname tokyo") is not None


def test_a_real_box_negotiates_each_tunnel_with_its_own_peer() -> None:
    """The composed published box: the Sakura tunnel links with the version-1 router;
    the Cloudflare IKEv2 tunnel has no peer in the lab and stays down, without harm."""
    box = Path(__file__).resolve().parents[1] / "data" / "real_configs"
    world, _, _ = make_world(
        version=1,
        crypto="v1",
        psk_cloud="THIS-IS-SECRET-KEY",
        boot_config=(box / "sakura_and_cloudflare_one_box.cfg").read_text(),
    )
    outcomes = {t.config.interface: t.outcome for t in world.sites["tokyo"].tunnels}
    assert sorted(outcomes) == ["tunnel 1", "tunnel 2"]
    assert outcomes["tunnel 1"].up and not outcomes["tunnel 2"].up
    (sa,) = parse_crypto_sa(world.show_crypto_sa("tokyo")).ipsec_sas
    assert (sa.interface, sa.peer_ip, sa.encryption) == (
        "tunnel 1",
        VPC_ROUTER_ADDRESS,
        "AES-CBC/128",
    )
