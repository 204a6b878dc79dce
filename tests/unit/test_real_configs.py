"""Published FITELnet running configs: parsed, loaded by the lab device, diffed safely.

The configs are in ``tests/data/real_configs/`` (sources and substitutions in its
README).  ``diff`` must touch only the managed tunnel's sections and never alter
another tunnel's, whatever else the box carries (IKEv2 to Cloudflare, SRv6, BGP).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ARTICLE_V2_CHANGES

from fitelctl.fitelnet.config_tree import ConfigTree, Entry
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.fitelnet.diff import DiffConflict, diff_config, equivalent, managed_scope, whole_scope
from fitelctl.inventory import load_inventory
from fitelctl.inventory.fitelnet_config import render_tunnel
from fitelctl.lab.device.editing import ConfigEditor, clone, replay_config
from fitelctl.lab.device.grammar import Failure
from fitelctl.lab.device.syntax import MODES

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real_configs"
ALL_REAL = sorted(p.name for p in REAL.glob("*.cfg"))
PSK = "THIS-IS-SECRET-KEY"  # the article's key, as in the composed box

CLOUDFLARE_OBJECTS = ("IPsec_POLICY", "SELECTOR", "ISAKMP_POLICY", "PROF1", "MAP1")


def real(name: str) -> ConfigTree:
    return ConfigTree.parse((REAL / name).read_text())


def target(interface: int = 1) -> ConfigTree:
    """What the article-v2 inventory generates for tokyo, on ``interface Tunnel N``."""
    site = load_inventory(ROOT / "inventory" / "examples" / "article-v2.yaml").site("tokyo")
    tunnel = site.tunnel.model_copy(update={"interface": interface})
    return render_tunnel(tunnel, site.cloud, PSK)


def managed_diff(current: ConfigTree, goal: ConfigTree, interface: int = 1) -> list[str]:
    return diff_config(current, goal, managed_scope(goal, tunnel_interface=interface))


def lab_apply(tree: ConfigTree, commands: list[str]) -> ConfigTree:
    """Type ``commands`` in configure terminal on the lab device; the resulting config."""
    tree = clone(tree)
    editor = ConfigEditor()
    for line in commands:
        if line == "exit":
            editor.block = None
            continue
        result = MODES[editor.mode].parse(line)
        assert not isinstance(result, Failure), f"device rejects {line!r}: {result}"
        if result.words[0] == "no":
            editor.remove(tree, result.command, result.words[1:])
        else:
            editor.set(tree, result.command, result.words)
    return tree


def others(tree: ConfigTree, *mine: str) -> ConfigTree:
    """The entries whose header does not name one of ``mine``."""
    return ConfigTree([e for e in tree.entries if not any(m in e.header for m in mine)])


# --- reading -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_REAL)
def test_the_lab_device_accepts_every_line(name: str) -> None:
    loaded = replay_config((REAL / name).read_text())
    assert loaded.render() == real(name).render()  # what the device prints back


@pytest.mark.parametrize("name", ALL_REAL)
def test_comments_headers_and_end_carry_no_setting(name: str) -> None:
    tree = real(name)
    lines = [e.header for e in tree.entries] + [c for e in tree.entries for c in e.children]
    assert not [line for line in lines if line.lstrip().startswith("!") or line == "end"]
    assert diff_config(tree, ConfigTree.parse(tree.render()), whole_scope) == []


def test_last_headers_and_block_comments_are_dropped() -> None:
    tree = real("cloudflare_router1_ikev2.cfg")
    policy = tree.find("crypto ipsec policy IPsec_POLICY")
    assert policy is not None and policy.children[-2:] == [
        "set udp-encapsulation nat-t keepalive interval 30 always-send",
        "set udp-encapsulation-force",
    ]
    assert "!  LAST" not in real("sakura_and_cloudflare_one_box.cfg").render()


def test_nested_bgp_sections_render_back_as_read() -> None:
    tree = real("pyats_l3vpn_fx201-pe1.cfg")
    bgp = tree.find("router bgp 65000")
    assert bgp is not None and bgp.is_block
    text = tree.render()
    assert (
        " address-family vpnv4\n  segment-routing srv6\n  neighbor 2001:db8:0:12::1 activate\n"
        in text
    )
    vrf = tree.find("ip vrf 1")
    assert vrf is not None and vrf.children[0] == "rd 1:1"


def test_an_ikev2_cloudflare_tunnel_is_read() -> None:
    [tunnel] = read_tunnels(real("cloudflare_router1_ikev2.cfg"))
    assert isinstance(tunnel, DeviceTunnel)
    assert (tunnel.interface, tunnel.map_name, tunnel.ike_version) == ("tunnel 1", "MAP1", 2)
    assert (tunnel.self_identity, tunnel.peer) == ("fitel-tunnel-1.example.com", "198.51.100.1")
    assert (tunnel.ike_key_bits, tunnel.esp_key_bits, tunnel.dh_group) == ((256,), (256,), 14)
    assert tunnel.pfs_group is None and tunnel.always_up


# --- diff on a box with several tunnels -----------------------------------------------


def test_diff_on_a_box_with_another_tunnel_is_the_articles_change_list() -> None:
    box = real("sakura_and_cloudflare_one_box.cfg")
    commands = managed_diff(box, target())
    assert commands == ARTICLE_V2_CHANGES
    after = lab_apply(box, commands)
    assert managed_diff(after, target()) == []
    assert equivalent(others(after, "sakuratokyo"), others(box, "sakuratokyo"))


def test_a_fresh_tunnel_next_to_real_ones_removes_nothing() -> None:
    for name, interface in [
        ("cloudflare_router1_ikev2.cfg", 2),
        ("cloudflare_early_main_mode.cfg", 3),
        ("pyats_l3vpn_fx201-pe1.cfg", 2),
        ("pyats_flexalgo_f220-pe2.cfg", 7),
    ]:
        current, goal = real(name), target(interface)
        commands = managed_diff(current, goal, interface)
        assert not [c for c in commands if c.lstrip().startswith("no ")], name
        assert not [c for c in commands if any(o in c for o in CLOUDFLARE_OBJECTS)], name
        after = lab_apply(current, commands)
        scope = managed_scope(goal, tunnel_interface=interface)
        assert equivalent(ConfigTree([e for e in after.entries if not scope(e)]), current), name


def test_the_global_sa_lifetime_is_not_changed_under_a_tunnel_that_relies_on_it() -> None:
    box = real("sakura_and_cloudflare_one_box.cfg")
    policy = box.find("crypto ipsec policy IPsec_POLICY")
    assert policy is not None
    policy.children.remove("set security-association lifetime seconds 28800")
    global_lifetime = box.find("crypto ipsec security-association lifetime seconds 1800")
    assert global_lifetime is not None
    global_lifetime.header = "crypto ipsec security-association lifetime seconds 600"
    with pytest.raises(DiffConflict, match="lifetime seconds 1800' belongs to interface Tunnel 2"):
        managed_diff(box, target())


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("cloudflare_router1_ikev2.cfg", "tunnel mode ipsec map MAP1"),
        ("pyats_l3vpn_fx201-pe1.cfg", "tunnel mode srv6"),
    ],
)
def test_a_tunnel_interface_bound_to_something_else_is_refused(name: str, owner: str) -> None:
    with pytest.raises(DiffConflict) as raised:
        managed_diff(real(name), target(1))
    assert "'interface Tunnel 1' belongs to interface Tunnel 1" in str(raised.value)
    assert owner in str(raised.value)


def test_a_policy_shared_with_another_tunnel_is_refused() -> None:
    box = real("sakura_and_cloudflare_one_box.cfg")
    profile = box.find("crypto isakmp profile PROF1")
    assert profile is not None
    profile.children[profile.children.index("set ipsec-policy IPsec_POLICY")] = (
        "set ipsec-policy sakuratokyo"
    )
    with pytest.raises(DiffConflict, match="'crypto ipsec policy sakuratokyo' belongs to"):
        managed_diff(box, target())


def test_operator_lines_in_managed_blocks_stay_negotiation_lines_are_fixed() -> None:
    """Cloudflare-style extras on the managed Sakura tunnel: ``ip address`` (BGP over
    IPsec), ``link-state``, ``set mtu``/``mss``/``udp-encapsulation`` are the operator's;
    aggressive mode and a hash list would keep the main-mode-only router from linking."""
    box = real("sakura_and_cloudflare_one_box.cfg")
    extras = {
        "interface Tunnel 1": ["ip address 10.0.0.4 255.255.255.254", "link-state sync-sa"],
        "crypto ipsec policy sakuratokyo": [
            "set mtu 1460",
            "set mss 1350",
            "set udp-encapsulation nat-t keepalive interval 30 always-send",
            "set udp-encapsulation-force",
        ],
        "crypto isakmp policy sakuratokyo": ["initiate-mode aggressive"],
    }
    for header, lines in extras.items():
        entry = box.find(header)
        assert entry is not None
        entry.children.extend(lines)
    isakmp = box.find("crypto isakmp policy sakuratokyo")
    assert isakmp is not None
    isakmp.children[isakmp.children.index("hash sha")] = "hash sha sha-256"
    commands = managed_diff(box, target())
    assert commands == [
        *ARTICLE_V2_CHANGES[:5],
        "crypto isakmp policy sakuratokyo",
        " no initiate-mode aggressive",
        " group 14",
        " hash sha-256",
        "exit",
    ]
    after = lab_apply(box, commands)
    assert managed_diff(after, target()) == []
    tunnel = after.find("interface Tunnel 1")
    assert tunnel is not None and "link-state sync-sa" in tunnel.children


def test_rollback_restores_a_real_box_exactly() -> None:
    box = real("sakura_and_cloudflare_one_box.cfg")
    after = lab_apply(box, managed_diff(box, target()))
    restored = lab_apply(after, diff_config(after, box, whole_scope))
    assert equivalent(restored, box)
    assert diff_config(restored, box, whole_scope) == []


def test_hash_lists_compare_in_any_order() -> None:
    a = ConfigTree([Entry("crypto isakmp policy P", ["hash sha sha-256"], is_block=True)])
    b = ConfigTree([Entry("crypto isakmp policy P", ["hash sha-256 sha"], is_block=True)])
    assert diff_config(a, b, whole_scope) == []
