"""``check`` rules: each rule fires when it should and only then; check agrees with the model."""

from __future__ import annotations

import copy
import functools
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.ike import CloudPeer, negotiate
from fitelctl.inventory import Inventory, InventoryError
from fitelctl.inventory.fitelnet_config import render_text, render_tunnel
from fitelctl.ops.check import (
    PSK_MAX_LENGTH,
    PSK_SYMBOLS,
    Finding,
    check_site,
    has_errors,
    offered_key_bits,
    psk_findings,
)

EXAMPLES = {
    "article-v1": ROOT / "inventory/examples/article-v1.yaml",
    "article-v2": ROOT / "inventory/examples/article-v2.yaml",
    "example": ROOT / "inventory/example.yaml",
}
PSK = "Grid-Test-Psk_0123"


@pytest.fixture(autouse=True)
def tokyo_psk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKYO_PSK", PSK)


def example_data(name: str) -> dict[str, Any]:
    """A fresh copy of the example inventory ``name`` (parsed once: the grid below asks
    for one per case, and parsing was 90 % of its time)."""
    return copy.deepcopy(_parsed_example(name))


@functools.cache
def _parsed_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLES[name].read_text())
    return data


def inventory(base: str = "article-v2", **changes: Any) -> Inventory:
    """An example inventory with ``tunnel__crypto__ike_hash="sha"``-style changes to tokyo.

    A value of None removes the key.
    """
    data = example_data(base)
    site = data["sites"]["tokyo"]
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = site
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(key, None)
        else:
            node[key] = copy.deepcopy(value)
    return Inventory.model_validate({**data, "base_dir": EXAMPLES[base].parent})


def rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.severity, f.rule) for f in findings]


def check(base: str = "article-v2", **changes: Any) -> list[Finding]:
    return check_site(inventory(base, **changes), "tokyo")


V1_CLOUD = {"version": 1, "global_address": "27.133.132.134", "zone": "tk1a"}


# -- the examples -------------------------------------------------------------------------


def test_article_v1_has_no_findings() -> None:
    assert check("article-v1") == []


def test_article_v2_has_only_the_two_lifetime_warnings() -> None:
    findings = check("article-v2")
    assert sorted(rules(findings)) == [
        ("warning", "esp-lifetime-differs"),
        ("warning", "ipsec-lifetime-short"),
    ]
    assert not has_errors(findings)
    assert all(f.site == "tokyo" for f in findings)


def test_v1_router_with_article_v2_device_crypto_is_an_error_per_parameter() -> None:
    findings = check("article-v2", cloud=V1_CLOUD)
    errors = [f for f in findings if f.severity == "error"]
    assert {f.rule for f in errors} == {"v1-unsupported-algorithm"}
    assert len(errors) == 4  # IKE hash, ESP integrity, DH group, PFS group
    assert all("only with AES128 + SHA1 + MODP1536" in f.message for f in errors)
    assert any("set tunnel.crypto.ike_hash: sha" in f.message for f in errors)
    assert has_errors(findings)


def test_errors_come_before_warnings() -> None:
    severities = [f.severity for f in check("article-v2", cloud=V1_CLOUD)]
    assert severities == sorted(severities, key=lambda s: s != "error")


# -- version 1 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ike_hash", "sha-256"),
        ("ike_encryption", "3des"),
        ("ike_key_size", [256, 256, 256]),
        ("ike_key_size", [192, 256, 256]),
        ("dh_group", 2),
        ("dh_group", 14),
        ("dh_group", 16),
        ("pfs_group", 14),
        ("esp_transform", ["esp-aes", "esp-sha256-hmac"]),
        ("esp_transform", ["esp-3des", "esp-sha-hmac"]),
        ("esp_key_size", [256, 256, 256]),
    ],
)
def test_v1_anything_but_the_observed_set_is_an_error(key: str, value: object) -> None:
    findings = check("article-v1", **{f"tunnel__crypto__{key}": value})
    assert rules(findings) == [("error", "v1-unsupported-algorithm")]
    assert f"tunnel.crypto.{key}" in findings[0].message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ike_key_size", [128, 256, 256]),  # 128 still offered: the router picks it
        ("ike_key_size", [128, 128, 128]),
        ("esp_key_size", [128, 192, 192]),
        ("esp_transform", ["esp-sha-hmac", "esp-aes"]),  # order does not matter
    ],
)
def test_v1_offers_that_include_the_observed_set_pass(key: str, value: object) -> None:
    assert check("article-v1", **{f"tunnel__crypto__{key}": value}) == []


def test_offered_key_bits_default_is_the_full_range() -> None:
    assert offered_key_bits(None) == (128, 192, 256)
    assert offered_key_bits((192, 256, 256)) == (192, 256)


# -- version 2 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"tunnel__crypto__ike_key_size": [128, 128, 128]}, ["v2-encryption-mismatch"]),
        ({"tunnel__crypto__esp_key_size": [128, 192, 128]}, ["v2-encryption-mismatch"]),
        ({"tunnel__crypto__ike_encryption": "3des"}, ["v2-encryption-mismatch"]),
        (
            {"tunnel__crypto__esp_transform": ["esp-3des", "esp-sha256-hmac"]},
            ["v2-encryption-mismatch"],
        ),
        (
            {"cloud__encryption_algo": "aes128", "tunnel__crypto__ike_key_size": [256, 256, 256]},
            ["v2-encryption-mismatch"],
        ),
        ({"tunnel__crypto__ike_hash": "sha"}, ["v2-hash-mismatch"]),
        ({"tunnel__crypto__esp_transform": ["esp-aes", "esp-sha-hmac"]}, ["v2-hash-mismatch"]),
        ({"cloud__hash_algo": "sha1"}, ["v2-hash-mismatch", "v2-hash-mismatch"]),
        ({"tunnel__crypto__dh_group": 15}, ["v2-dh-group-mismatch"]),
        ({"tunnel__crypto__pfs_group": 5}, ["v2-pfs-group-mismatch"]),
        ({"cloud__dh_group": "modp3072"}, ["v2-dh-group-mismatch", "v2-pfs-group-mismatch"]),
        (
            {"cloud__encryption_algo": "aes128", "cloud__hash_algo": "sha1"},
            ["v2-hash-mismatch", "v2-hash-mismatch"],  # aes128 is offered by default
        ),
    ],
)
def test_v2_each_difference_is_its_own_error(
    changes: dict[str, object], expected: list[str]
) -> None:
    errors = [f for f in check("article-v2", **changes) if f.severity == "error"]
    assert [f.rule for f in errors] == expected


def test_v2_messages_say_what_to_change_on_either_side() -> None:
    (finding,) = [f for f in check(tunnel__crypto__dh_group=15) if f.severity == "error"]
    assert "set tunnel.crypto.dh_group: 14" in finding.message
    assert "cloud.dh_group" in finding.message
    (pfs,) = [f for f in check(tunnel__crypto__pfs_group=5) if f.severity == "error"]
    assert "set tunnel.crypto.pfs_group: 14" in pfs.message and "MODP_2048" in pfs.message
    sized = check(tunnel__crypto__ike_key_size=[128, 128, 128])
    (size,) = [f for f in sized if f.severity == "error"]
    assert "remove tunnel.crypto.ike_key_size" in size.message
    assert "[256, 256, 256]" in size.message


def test_v2_router_with_matching_sha1_modp1024_device_passes() -> None:
    findings = check(
        "article-v1",
        cloud={**V1_CLOUD, "version": 2, "hash_algo": "sha1", "dh_group": "modp1024"},
        tunnel__crypto={"dh_group": 2, "pfs_group": 2},
    )
    assert findings == []


# -- IKE version, identities --------------------------------------------------------------


def test_ike_version_2_is_an_error_and_1_is_not() -> None:
    assert rules(check("article-v1", tunnel__crypto__ike_version=2)) == [("error", "ike-version")]
    assert check("article-v1", tunnel__crypto__ike_version=1) == []


def test_ike_version_2_says_the_router_is_ikev1_only_and_the_change() -> None:
    for example in ("article-v1", "article-v2"):
        (finding,) = [
            f for f in check(example, tunnel__crypto__ike_version=2) if f.severity == "error"
        ]
        assert "VPC router peer is IKEv1 only" in finding.message
        assert "set tunnel.crypto.ike_version: 1" in finding.message


def test_self_identity_that_is_not_the_remote_id() -> None:
    # cloud.remote_id defaults to the self identity, so only a pinned one can differ
    assert check("article-v1", tunnel__self_identity="10.0.0.1") == []
    (finding,) = check(
        "article-v1", tunnel__self_identity="10.0.0.1", cloud__remote_id="172.30.128.254"
    )
    assert rules([finding]) == [("error", "remote-id-mismatch")]
    assert "cloud.remote_id: 10.0.0.1" in finding.message


def test_remote_id_that_is_not_the_self_identity() -> None:
    (finding,) = check("article-v1", cloud__remote_id="126.169.118.242")
    assert finding.rule == "remote-id-mismatch" and "172.30.128.254" in finding.message


def test_explicit_matching_peer_and_remote_id_pass() -> None:
    explicit = {"cloud__peer": "126.169.118.242", "cloud__remote_id": "172.30.128.254"}
    assert check("article-v1", **explicit) == []


def test_behind_nat_the_peer_must_be_the_public_address() -> None:
    (finding,) = check("article-v1", cloud__peer="172.30.128.254")
    assert rules([finding]) == [("error", "peer-address-mismatch")]
    assert "behind NAT" in finding.message
    assert "set cloud.peer: 126.169.118.242" in finding.message


def test_without_nat_the_peer_must_be_the_wan_address() -> None:
    (finding,) = check("article-v1", tunnel__public_address=None, cloud__peer="198.51.100.7")
    assert finding.rule == "peer-address-mismatch" and "NAT" not in finding.message
    assert "set cloud.peer: 172.30.128.254" in finding.message
    assert check("article-v1", tunnel__public_address=None) == []


# -- pre-shared key -----------------------------------------------------------------------


def psk_rules(psk: str) -> list[str]:
    return [rule for _, rule, _ in psk_findings(psk)]


def test_psk_length_limit_is_40() -> None:
    assert psk_rules("a" * PSK_MAX_LENGTH) == []
    assert psk_rules("a" * (PSK_MAX_LENGTH + 1)) == ["psk-too-long"]


@pytest.mark.parametrize("bad", ["with space", 'quote"', "apos'", "back\\slash", "what?", "tab\t",
                                 "日本語", "back`tick"])  # fmt: skip
def test_psk_characters_outside_the_conservative_set(bad: str) -> None:
    assert psk_rules(bad) == ["psk-characters"]


def test_psk_letters_digits_and_the_allowed_symbols_pass() -> None:
    assert psk_rules("Az09" + PSK_SYMBOLS[:30]) == []
    assert psk_rules("").count("psk-empty") == 1


def test_psk_messages_never_carry_the_key() -> None:
    key = "this secret is far too long and has spaces?"
    messages = [message for _, _, message in psk_findings(key)]
    assert len(messages) == 2
    assert not any(key in m or "secret is far" in m for m in messages)


def test_unresolved_psk_is_an_error_naming_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKYO_PSK")
    (finding,) = check("article-v1")
    assert rules([finding]) == [("error", "psk-unresolved")]
    assert "TOKYO_PSK" in finding.message and "sites.tokyo.tunnel.psk" in finding.message


def test_empty_psk_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKYO_PSK", "")
    assert rules(check("article-v1")) == [("error", "psk-empty")]


def test_psk_from_a_file_is_checked_and_never_shown(tmp_path: Path) -> None:
    key = "x" * 30 + " y" * 10
    (tmp_path / "tokyo.psk").write_text(key + "\n")
    data = example_data("article-v1")
    data["sites"]["tokyo"]["tunnel"]["psk"] = "file:tokyo.psk"
    inv = Inventory.model_validate({**data, "base_dir": tmp_path})
    findings = check_site(inv, "tokyo")
    assert sorted(f.rule for f in findings) == ["psk-characters", "psk-too-long"]
    assert not any(key.strip() in f.message or "x" * 10 in f.message for f in findings)


# -- timers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"tunnel__crypto__ike_lifetime": 86400}, "ike-lifetime-differs"),
        ({"tunnel__crypto__ipsec_lifetime": 3600}, "esp-lifetime-differs"),
        ({"tunnel__crypto__keepalive_interval": 30}, "dpd-interval-differs"),
    ],
)
def test_timers_that_differ_are_warnings(changes: dict[str, object], rule: str) -> None:
    v1 = check("article-v1", **changes)
    assert rules(v1) == [("warning", rule)]
    assert "fixed on a version-1 router" in v1[0].message and "cloud." not in v1[0].message
    v2 = check("article-v2", **{"tunnel__crypto__ipsec_lifetime": 1800, **changes})
    assert rules(v2) == [("warning", rule)] and "or cloud." in v2[0].message


def test_v2_cloud_timers_that_match_pass() -> None:
    findings = check("article-v2", cloud__esp_lifetime=180)
    assert rules(findings) == [("warning", "ipsec-lifetime-short")]
    assert check("article-v2", tunnel__crypto__ipsec_lifetime=1800) == []
    changed = {"cloud__dpd_interval": 30, "tunnel__crypto__keepalive_interval": 30}
    assert check("article-v2", tunnel__crypto__ipsec_lifetime=1800, **changed) == []


def test_ipsec_lifetime_under_300_warns_and_explains_the_trade_off() -> None:
    short = check("article-v2", cloud__esp_lifetime=299, tunnel__crypto__ipsec_lifetime=299)
    (finding,) = short
    assert rules(short) == [("warning", "ipsec-lifetime-short")]
    for fragment in ("DPD", "rekey every 299 s", "YAMAHA", "600 s", "ipsec_lifetime: 300"):
        assert fragment in finding.message
    assert check("article-v2", cloud__esp_lifetime=300, tunnel__crypto__ipsec_lifetime=300) == []


# -- several sites ------------------------------------------------------------------------


def test_all_sites_by_default_each_checked_on_its_own_and_unknown_is_bad_input() -> None:
    data = example_data("article-v1")
    data["sites"]["osaka"] = copy.deepcopy(data["sites"]["tokyo"])
    data["sites"]["osaka"]["tunnel"]["crypto"] = {"ike_version": 2}
    inv = Inventory.model_validate(data)
    assert sorted(inv.select([])) == ["osaka", "tokyo"]
    assert [(f.site, f.rule) for f in check_site(inv, "osaka")] == [("osaka", "ike-version")]
    assert check_site(inv, "tokyo") == []
    with pytest.raises(InventoryError, match="unknown site 'nara'"):
        check_site(inv, "nara")


# -- check agrees with the negotiation model ----------------------------------------------


def negotiates_up(inv: Inventory, site: str) -> bool:
    config = inv.site(site)
    tunnel, cloud = config.tunnel, config.cloud
    rendered = render_text(render_tunnel(tunnel, cloud, PSK))
    (device,) = read_tunnels(ConfigTree.parse(rendered))
    assert isinstance(device, DeviceTunnel)
    peer = CloudPeer(
        router_version=cloud.version,
        router_up=True,
        global_address=cloud.global_address,
        peer=tunnel.cloud_peer_address(cloud),
        remote_id=tunnel.cloud_remote_id(cloud),
        psk=PSK,
        encryption_algo=cloud.encryption_algo,
        hash_algo=cloud.hash_algo,
        dh_group=cloud.dh_group,
        ike_lifetime=cloud.ike_lifetime,
        esp_lifetime=cloud.esp_lifetime,
    )
    return negotiate(device, peer, device_public_address=tunnel.outside_address).up


MUTATIONS: list[tuple[str, object]] = [
    ("tunnel__crypto__ike_version", 2),
    ("tunnel__crypto__ike_encryption", "3des"),
    ("tunnel__crypto__ike_key_size", [128, 128, 128]),
    ("tunnel__crypto__ike_key_size", [256, 256, 256]),
    ("tunnel__crypto__ike_key_size", [128, 256, 192]),
    ("tunnel__crypto__ike_key_size", [192, 192, 192]),
    ("tunnel__crypto__ike_hash", "sha"),
    ("tunnel__crypto__ike_hash", "sha-256"),
    ("tunnel__crypto__ike_hash", "sha-512"),
    ("tunnel__crypto__dh_group", 2),
    ("tunnel__crypto__dh_group", 5),
    ("tunnel__crypto__dh_group", 14),
    ("tunnel__crypto__dh_group", 15),
    ("tunnel__crypto__esp_transform", ["esp-aes", "esp-sha-hmac"]),
    ("tunnel__crypto__esp_transform", ["esp-sha256-hmac", "esp-aes"]),
    ("tunnel__crypto__esp_transform", ["esp-aes", "esp-sha512-hmac"]),
    ("tunnel__crypto__esp_transform", ["esp-3des", "esp-sha-hmac"]),
    ("tunnel__crypto__esp_key_size", [128, 128, 128]),
    ("tunnel__crypto__esp_key_size", [256, 256, 256]),
    ("tunnel__crypto__pfs_group", 2),
    ("tunnel__crypto__pfs_group", 5),
    ("tunnel__crypto__pfs_group", 14),
    ("tunnel__crypto__pfs_group", 16),
    ("tunnel__crypto__ipsec_lifetime", 180),
    ("tunnel__crypto__keepalive_interval", 30),
    ("tunnel__preset", "sakura-v1"),
    ("tunnel__preset", "sakura-v2"),
    ("tunnel__self_identity", "10.0.0.1"),
    ("tunnel__public_address", None),
    ("cloud__version", 1),
    ("cloud__version", 2),
    ("cloud__encryption_algo", "aes128"),
    ("cloud__encryption_algo", "aes256"),
    ("cloud__hash_algo", "sha1"),
    ("cloud__hash_algo", "sha256"),
    ("cloud__dh_group", "modp1024"),
    ("cloud__dh_group", "modp2048"),
    ("cloud__dh_group", "modp4096"),
    ("cloud__peer", "172.30.128.254"),
    ("cloud__peer", "126.169.118.242"),
    ("cloud__remote_id", "10.0.0.1"),
    ("cloud__esp_lifetime", 180),
]


def grid() -> list[tuple[str, dict[str, object]]]:
    """Each example as is, with each single mutation, and seeded random combinations."""
    cases: list[tuple[str, dict[str, object]]] = []
    rng = random.Random(20240718)
    for base in EXAMPLES:
        cases.append((base, {}))
        cases.extend((base, dict([mutation])) for mutation in MUTATIONS)
        for _ in range(150):
            cases.append((base, dict(rng.sample(MUTATIONS, rng.randint(2, 4)))))
    return cases


def test_check_has_no_error_exactly_when_the_model_negotiates_up() -> None:
    disagreements = []
    outcomes = set()
    for base, changes in grid():
        changes = {"tunnel__psk": "env:TOKYO_PSK", **changes}  # example.yaml uses a file
        inv = inventory(base, **changes)
        up = negotiates_up(inv, "tokyo")
        findings = check_site(inv, "tokyo")
        outcomes.add(up)
        if up == has_errors(findings):
            disagreements.append((base, changes, up, rules(findings)))
    assert outcomes == {True, False}
    assert disagreements == []
