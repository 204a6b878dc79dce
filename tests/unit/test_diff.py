"""The config differ: golden article case, scope, order, idempotency, rollback.

Commands are applied with the lab device's own editing rules (``ConfigEditor`` and the
session grammar), which proves the simulated F220 accepts every line the differ emits
and ends up where the differ meant it to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ARTICLE_V2_CHANGES

from fitelctl.fitelnet.config_keys import setting
from fitelctl.fitelnet.config_tree import ConfigTree, Entry
from fitelctl.fitelnet.diff import (
    Scope,
    diff_config,
    equivalent,
    managed_scope,
    whole_scope,
)
from fitelctl.lab.device.editing import ConfigEditor, clone, replay_config
from fitelctl.lab.device.grammar import Failure
from fitelctl.lab.device.syntax import MODES

DATA = Path(__file__).resolve().parents[1] / "data"
DIFF = DATA / "diff"


def load(path: Path) -> ConfigTree:
    return ConfigTree.parse(path.read_text())


def site_v1() -> ConfigTree:
    return load(DIFF / "site_v1.cfg")


def target_v2() -> ConfigTree:
    return load(DIFF / "target_tokyo_v2.cfg")


def article_v1() -> ConfigTree:
    return load(DATA / "config_v1_sakura_tokyo.cfg")


def article_v2() -> ConfigTree:
    """v1 with the article's change list typed on top, as the device applies it."""
    v1 = (DATA / "config_v1_sakura_tokyo.cfg").read_text()
    changes = (DATA / "config_v2_changes_sakura_tokyo.cfg").read_text()
    return replay_config(v1 + "\n" + changes)


def lab_apply(tree: ConfigTree, commands: list[str]) -> ConfigTree:
    """Type ``commands`` in ``configure terminal`` on the lab device; the resulting config."""
    tree = clone(tree)
    editor = ConfigEditor()
    for line in commands:
        if line == "exit":
            assert editor.block is not None, "exit outside a block"
            editor.block = None
            continue
        assert line.startswith(" ") == (editor.block is not None), f"bad indent: {line!r}"
        assert not line.startswith("  ")
        result = MODES[editor.mode].parse(line)
        assert not isinstance(result, Failure), f"device rejects {line!r}: {result}"
        assert result.command.action == "config", line
        if result.words[0] == "no":
            editor.remove(tree, result.command, result.words[1:])
        else:
            editor.set(tree, result.command, result.words)
    assert editor.block is None, "block left open"
    return tree


def without(tree: ConfigTree, *headers: str) -> ConfigTree:
    return ConfigTree([e for e in clone(tree).entries if e.header not in headers])


def managed(target: ConfigTree) -> Scope:
    return managed_scope(target, tunnel_interface=1)


# --- the article --------------------------------------------------------------------


def test_article_v1_to_v2_golden() -> None:
    target = article_v2()
    assert diff_config(article_v1(), target, managed(target)) == ARTICLE_V2_CHANGES
    assert diff_config(article_v1(), target, whole_scope) == ARTICLE_V2_CHANGES


def test_article_hand_written_v2_is_the_same_target() -> None:
    handmade = load(DIFF / "config_v2_sakura_tokyo.cfg")
    assert equivalent(handmade, article_v2())
    assert diff_config(article_v1(), handmade, whole_scope) == ARTICLE_V2_CHANGES


def test_article_commands_bring_the_lab_device_to_v2() -> None:
    after = lab_apply(article_v1(), ARTICLE_V2_CHANGES)
    assert equivalent(after, article_v2())
    assert diff_config(after, article_v2(), whole_scope) == []


# --- blocks and children ------------------------------------------------------------


def test_block_absent_from_current_is_added_whole() -> None:
    current = without(article_v1(), "crypto ipsec selector sakuratokyo")
    assert diff_config(current, article_v1(), whole_scope) == [
        "crypto ipsec selector sakuratokyo",
        " src 1 ipv4 any",
        " dst 1 ipv4 any",
        "exit",
    ]


def test_stale_children_are_negated_before_new_ones() -> None:
    target = target_v2()
    current = load(DIFF / "site_drifted.cfg")
    commands = diff_config(current, target, managed(target))
    policy = commands[commands.index("crypto ipsec policy sakuratokyo") :]
    assert policy[: policy.index("exit") + 1] == [
        "crypto ipsec policy sakuratokyo",
        " no set security-association transform-keysize aes 256 256 256",
        " set security-association always-up",
        " set ip fragment post",
        "exit",
    ]
    isakmp = commands[commands.index("crypto isakmp policy sakuratokyo") :]
    assert isakmp[: isakmp.index("exit") + 1] == [
        "crypto isakmp policy sakuratokyo",
        " no encryption-keysize aes 256 256 256",
        "exit",
    ]


def test_keyed_child_is_replaced_by_one_line() -> None:
    current = article_v1()
    target = clone(current)
    policy = target.find("crypto isakmp policy sakuratokyo")
    assert policy is not None
    policy.children[policy.children.index("group 5")] = "group 14"
    assert diff_config(current, target, managed(target)) == [
        "crypto isakmp policy sakuratokyo",
        " group 14",
        "exit",
    ]


def test_keyed_top_level_line_is_replaced_and_managed() -> None:
    target = target_v2()
    current = site_v1()
    lifetime = current.find("crypto ipsec security-association lifetime seconds 1800")
    assert lifetime is not None
    lifetime.header = "crypto ipsec security-association lifetime seconds 3600"
    assert managed(target)(lifetime)
    commands = diff_config(current, target, managed(target))
    assert commands[0] == "crypto ipsec security-association lifetime seconds 1800"
    assert not any(c.startswith("no crypto ipsec security-association") for c in commands)


def test_transform_word_order_does_not_matter() -> None:
    current = article_v1()
    target = clone(current)
    policy = target.find("crypto ipsec policy sakuratokyo")
    assert policy is not None
    n = policy.children.index("set security-association transform esp-aes esp-sha-hmac")
    policy.children[n] = "set security-association transform esp-sha-hmac esp-aes"
    assert diff_config(current, target, whole_scope) == []
    policy.children[n] = "set security-association transform esp-sha512-hmac esp-aes"
    assert diff_config(current, target, whole_scope) == [
        "crypto ipsec policy sakuratokyo",
        " set security-association transform esp-sha512-hmac esp-aes",  # the target's order
        "exit",
    ]


def test_duplicate_keyed_children_are_collapsed_to_the_target() -> None:
    current = article_v1()
    profile = current.find("crypto isakmp profile sakuratokyo")
    assert profile is not None
    profile.children.append("set peer 198.51.100.1")
    commands = diff_config(current, article_v1(), whole_scope)
    assert commands == [
        "crypto isakmp profile sakuratokyo",
        " no set peer 198.51.100.1",
        " set peer 27.133.132.134",
        "exit",
    ]


# --- scope --------------------------------------------------------------------------


def test_unmanaged_entries_are_untouched() -> None:
    target = target_v2()
    commands = diff_config(site_v1(), target, managed(target))
    assert not any("osaka" in c or "Tunnel 2" in c or "tunnel 2" in c for c in commands)
    assert not any(
        c.startswith(("hostname", "no hostname", "interface GigaEthernet")) for c in commands
    )
    assert "no ip route 0.0.0.0/0 172.30.128.1" not in commands


def test_stale_route_into_our_tunnel_is_removed_other_routes_kept() -> None:
    target = target_v2()
    commands = diff_config(site_v1(), target, managed(target))
    assert "ip route 192.168.30.0/24 tunnel 1" in commands
    assert commands[-1] == "no ip route 192.168.10.0/24 tunnel 1"
    assert not any(c.startswith("no ip route") and not c.endswith("tunnel 1") for c in commands)


def test_managed_scope_predicate() -> None:
    scope = managed(target_v2())
    assert scope(Entry("ip route 10.1.0.0/16 tunnel 1"))
    assert not scope(Entry("ip route 10.1.0.0/16 tunnel 11"))
    assert not scope(Entry("ip route 10.1.0.0/16 172.30.128.1"))
    assert scope(Entry("crypto ipsec security-association lifetime seconds 60"))
    assert scope(Entry("crypto ipsec policy sakuratokyo", is_block=True))
    assert not scope(Entry("crypto ipsec policy osaka", is_block=True))
    assert not scope(Entry("hostname tokyo-f220"))
    assert not scope(Entry("interface Tunnel 2", is_block=True))


def test_managed_apply_leaves_everything_else_as_it_was() -> None:
    target = target_v2()
    current = site_v1()
    scope = managed(target)
    after = lab_apply(current, diff_config(current, target, scope))
    assert diff_config(after, target, managed(target)) == []
    untouched = ConfigTree([e for e in current.entries if not scope(e)])
    assert equivalent(ConfigTree([e for e in after.entries if not scope(e)]), untouched)


# --- order --------------------------------------------------------------------------


def test_removals_come_after_additions_references_first() -> None:
    current = site_v1()
    osaka = {
        "crypto ipsec policy osaka",
        "crypto ipsec selector osaka",
        "crypto isakmp policy osaka",
        "crypto isakmp profile osaka",
        "crypto map osaka ipsec-isakmp",
        "interface Tunnel 2",
        "ip route 192.168.20.0/24 tunnel 2",
    }
    target = without(current, *osaka)
    assert diff_config(current, target, whole_scope) == [
        "no ip route 192.168.20.0/24 tunnel 2",
        "no interface Tunnel 2",
        "no crypto map osaka ipsec-isakmp",
        "no crypto isakmp profile osaka",
        "no crypto ipsec policy osaka",
        "no crypto isakmp policy osaka",
        "no crypto ipsec selector osaka",
    ]
    assert equivalent(lab_apply(current, diff_config(current, target, whole_scope)), target)


def test_switching_a_profile_to_a_new_policy_adds_before_it_removes() -> None:
    current = article_v1()
    target = clone(current)
    policy = target.find("crypto ipsec policy sakuratokyo")
    profile = target.find("crypto isakmp profile sakuratokyo")
    assert policy is not None and profile is not None
    policy.header = "crypto ipsec policy sakuratokyo2"
    profile.children[profile.children.index("set ipsec-policy sakuratokyo")] = (
        "set ipsec-policy sakuratokyo2"
    )
    commands = diff_config(current, target, whole_scope)
    assert commands.index("crypto ipsec policy sakuratokyo2") < commands.index(
        " set ipsec-policy sakuratokyo2"
    )
    assert commands[-1] == "no crypto ipsec policy sakuratokyo"


def test_additions_follow_dependency_order() -> None:
    target = target_v2()
    commands = diff_config(ConfigTree(), target, whole_scope)
    headers = [c for c in commands if not c.startswith(" ") and c != "exit"]
    assert headers == [
        "crypto ipsec security-association lifetime seconds 1800",
        "crypto ipsec policy sakuratokyo",
        "crypto ipsec selector sakuratokyo",
        "crypto isakmp policy sakuratokyo",
        "crypto isakmp profile sakuratokyo",
        "crypto map sakuratokyo ipsec-isakmp",
        "interface Tunnel 1",
        "ip route 192.168.30.0/24 tunnel 1",
    ]


# --- order-insensitivity, idempotency, rollback -------------------------------------


def test_reordered_blocks_and_children_make_no_diff() -> None:
    reordered = load(DIFF / "site_v1_reordered.cfg")
    assert equivalent(site_v1(), reordered)
    assert diff_config(site_v1(), reordered, whole_scope) == []
    assert diff_config(reordered, site_v1(), whole_scope) == []
    target = target_v2()
    assert diff_config(reordered, target, managed(target)) == diff_config(
        site_v1(), target, managed(target)
    )


CONFIGS = {
    "article_v1": article_v1,
    "article_v2": article_v2,
    "site_v1": site_v1,
    "site_v1_reordered": lambda: load(DIFF / "site_v1_reordered.cfg"),
    "site_drifted": lambda: load(DIFF / "site_drifted.cfg"),
    "target_v2": target_v2,
    "empty": ConfigTree,
}


@pytest.mark.parametrize("name", CONFIGS)
def test_no_diff_against_itself(name: str) -> None:
    config = CONFIGS[name]()
    assert diff_config(config, config, whole_scope) == []
    assert diff_config(config, config, managed(config)) == []


PAIRS = [
    ("article_v1", "article_v2"),
    ("article_v2", "article_v1"),
    ("site_v1", "target_v2"),
    ("site_drifted", "target_v2"),
    ("site_v1_reordered", "target_v2"),
    ("empty", "target_v2"),
    ("target_v2", "article_v1"),
]


@pytest.mark.parametrize(("current_name", "target_name"), PAIRS)
def test_applied_managed_diff_converges(current_name: str, target_name: str) -> None:
    current, target = CONFIGS[current_name](), CONFIGS[target_name]()
    after = lab_apply(current, diff_config(current, target, managed(target)))
    assert diff_config(after, target, managed(target)) == []


@pytest.mark.parametrize(("now_name", "backup_name"), [*PAIRS, ("site_drifted", "site_v1")])
def test_rollback_round_trip(now_name: str, backup_name: str) -> None:
    now, backup = CONFIGS[now_name](), CONFIGS[backup_name]()
    after = lab_apply(now, diff_config(now, backup, whole_scope))
    assert equivalent(after, backup)
    assert diff_config(after, backup, whole_scope) == []


def test_rollback_of_a_drifted_site() -> None:
    commands = diff_config(load(DIFF / "site_drifted.cfg"), site_v1(), whole_scope)
    assert commands[0] == "hostname tokyo-f220"
    assert "no ip route 10.9.0.0/16 172.30.128.9" in commands
    assert "no ip route 192.168.11.0/24 tunnel 1" in commands
    assert commands[-1] == "no crypto ipsec policy nagoya"


def test_route_netmask_and_prefix_length_are_the_same_route() -> None:
    current = ConfigTree.parse("ip route 192.168.10.0 255.255.255.0 tunnel 1\n")
    target = ConfigTree.parse("ip route 192.168.10.0/24 tunnel 1\n")
    assert diff_config(current, target, managed(target)) == []


# --- keys ---------------------------------------------------------------------------

POLICY = "crypto ipsec policy x"


@pytest.mark.parametrize(
    ("a", "b", "block", "same_key", "same_value"),
    [
        ("set pfs group5", "set pfs group14", POLICY, True, False),
        (
            "set security-association transform esp-aes esp-sha-hmac",
            "set security-association transform esp-sha-hmac esp-aes",
            POLICY,
            True,
            True,
        ),
        (
            "set security-association transform esp-aes esp-sha-hmac",
            "set security-association transform-keysize aes 128 256 256",
            POLICY,
            False,
            False,
        ),
        ("src 1 ipv4 any", "src 2 ipv4 any", "crypto ipsec selector x", False, True),
        ("src 1 ipv4 any", "src 1 ipv4 10.0.0.0/8", "crypto ipsec selector x", True, False),
        (
            "self-identity address 1.2.3.4",
            "self-identity fqdn a.example",
            "crypto isakmp profile x",
            True,
            False,
        ),
        ("group 5", "group 14", "router bgp 1", False, True),  # unknown block: exact lines
        ("hostname a", "hostname b", None, True, False),
        (
            "crypto ipsec security-association lifetime seconds 60",
            "crypto ipsec security-association lifetime seconds 1800",
            None,
            True,
            False,
        ),
        ("ip route 10.0.0.0/8 tunnel 1", "ip route 10.0.0.0/8 tunnel 2", None, False, True),
        (
            "ip route 10.0.0.0/8 192.0.2.1",
            "ip route 10.0.0.0 255.0.0.0 192.0.2.1",
            None,
            True,
            True,
        ),
        ("ip route 0.0.0.0/0 192.0.2.1", "ip route 0.0.0.0/0 192.0.2.2", None, False, True),
        ("no-such-thing 1", "no-such-thing 2", None, False, True),
    ],
)
def test_setting_keys(a: str, b: str, block: str | None, same_key: bool, same_value: bool) -> None:
    first, second = setting(a, block), setting(b, block)
    assert (first.key == second.key) is same_key
    assert (first.value == second.value) is same_value
