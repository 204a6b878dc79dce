"""``translate``: an F220 config and a VPC router's settings as swanctl connections.

What is asserted is what a reader checks against swanctl.conf(5): IKE proposals
``ENCR-INTEG-DH`` (IKE's integrity keyword also gives the PRF), ESP proposals with a DH
group only when PFS is on, ``version``, ``aggressive``, ``local.id`` with its ``fqdn:`` /
``email:`` prefixes, lifetimes as charon proposes them (IKEv1: ``reauth_time`` +
``over_time``, since it re-authenticates instead of rekeying; IKEv2: ``rekey_time`` +
``over_time``; the CHILD_SA's ``life_time``, renewed at 90 %), ``dpd_delay`` /
``dpd_timeout``.  Pure: no strongSwan needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fitelctl.lab.strongswan.translate import (
    UNREACHABLE,
    Connection,
    DeviceConnection,
    LabAddresses,
    TranslationError,
    device_connections,
    router_connections,
)

DATA = Path(__file__).resolve().parents[1] / "data"
TUNNEL_1 = "interface Tunnel 1\n tunnel mode ipsec map sakuratokyo\nexit\n"
#: the article's v1 config bound to Tunnel 1, as the device has it
ARTICLE = TUNNEL_1 + (DATA / "config_v1_sakura_tokyo.cfg").read_text()
ROUTER = "27.133.132.134"  # the article's VPC router
DEVICE = "172.30.128.254"  # the F220's own (local-address, self-identity)
OWN = "10.0.0.9"  # the device's outside interface when the config names no address
LAB = LabAddresses({ROUTER: "198.19.0.1", DEVICE: "198.19.0.2", OWN: "198.19.1.2"})
ARTICLE_PSK = "THIS-IS-SECRET-KEY"


def edited(old: str, new: str, text: str = ARTICLE) -> str:
    """``text`` with its one ``old`` replaced (fails if ``old`` is not there exactly once)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def translate(text: str = ARTICLE) -> Connection:
    [connection] = device_connections(text, LAB, own_address=OWN)
    return connection


def child(connection: Connection) -> dict[str, Any]:
    [only] = connection.body["children"].values()
    assert isinstance(only, dict)
    return only


def line_of(text: str, line: str) -> int:
    [number] = [n for n, raw in enumerate(text.splitlines(), start=1) if raw == line]
    return number


# ---------------------------------------------------------------- the article's v1 config


def test_the_article_offers_aes_128_192_256_with_sha1_and_modp1536_preferred_first() -> None:
    """No ``encryption-keysize``: the F220 offers every AES key length, 128 first."""
    assert translate().body["proposals"] == [
        "aes128-sha1-modp1536",
        "aes192-sha1-modp1536",
        "aes256-sha1-modp1536",
    ]


def test_the_article_esp_proposals_carry_group_5_for_pfs() -> None:
    assert child(translate())["esp_proposals"] == [
        "aes128-sha1-modp1536",
        "aes192-sha1-modp1536",
        "aes256-sha1-modp1536",
    ]


def ike_lifetime(body: dict[str, Any], renewal: str) -> int:
    """The IKE SA lifetime charon proposes: renewal (at 90 %) plus ``over_time``."""
    renew, over = int(body[renewal].removesuffix("s")), int(body["over_time"].removesuffix("s"))
    assert renew == (renew + over) * 9 // 10
    return renew + over


def test_the_article_is_ikev1_main_mode_reauthenticating_every_8_hours() -> None:
    body = translate().body
    assert body["version"] == "1"
    assert body["aggressive"] == "no"
    assert ike_lifetime(body, "reauth_time") == 28800
    assert body["rekey_time"] == "0s"  # IKEv1 SAs are not rekeyed


def test_the_article_child_sa_rekeys_after_its_policy_lifetime() -> None:
    child_sa = child(translate())
    assert child_sa["life_time"] == "1800s"
    assert child_sa["mode"] == "tunnel"
    assert child_sa["start_action"] == "start"  # set security-association always-up


def test_the_article_keepalive_is_dpd_every_15_seconds() -> None:
    assert translate().body["dpd_delay"] == "15s"


def test_the_article_presents_its_self_identity_and_accepts_any_peer_identity() -> None:
    connection = translate()
    assert connection.body["local"] == {"auth": "psk", "id": DEVICE}
    assert connection.body["remote"] == {"auth": "psk", "id": "%any"}
    assert connection.psk_owners == (DEVICE,)
    assert connection.psk == ARTICLE_PSK


def test_the_article_addresses_are_placed_in_the_lab() -> None:
    body = translate().body
    assert body["local_addrs"] == ["198.19.0.2"]
    assert body["remote_addrs"] == ["198.19.0.1"]


def test_the_article_selector_any_is_all_ipv4_both_ways() -> None:
    child_sa = child(translate())
    assert child_sa["local_ts"] == ["0.0.0.0/0"]
    assert child_sa["remote_ts"] == ["0.0.0.0/0"]


def test_the_connection_and_its_child_are_named_after_the_interface() -> None:
    connection = translate()
    assert connection.name == "tunnel1"
    assert list(connection.body["children"]) == ["tunnel1"]


def test_a_peer_the_lab_does_not_know_is_unreachable() -> None:
    [connection] = device_connections(ARTICLE, LabAddresses({}), own_address=OWN)
    assert connection.body["remote_addrs"] == [UNREACHABLE]
    assert connection.body["local_addrs"] == [UNREACHABLE]


# ---------------------------------------------------------------- variations of it


def test_encryption_keysize_pins_the_ike_key_length() -> None:
    text = edited(" encryption aes\n", " encryption aes\n encryption-keysize aes 256 256 256\n")
    assert translate(text).body["proposals"] == ["aes256-sha1-modp1536"]


def test_the_preferred_key_length_comes_first() -> None:
    text = edited(" encryption aes\n", " encryption aes\n encryption-keysize aes 128 256 192\n")
    assert translate(text).body["proposals"] == [
        "aes192-sha1-modp1536",
        "aes128-sha1-modp1536",
        "aes256-sha1-modp1536",
    ]


def test_transform_keysize_pins_the_esp_key_length() -> None:
    text = edited(
        " set pfs group5\n",
        " set pfs group5\n set security-association transform-keysize aes 256 256 256\n",
    )
    assert child(translate(text))["esp_proposals"] == ["aes256-sha1-modp1536"]


def test_two_hashes_give_two_proposals_per_key_length() -> None:
    text = edited(" hash sha\n", " hash sha sha-256\n encryption-keysize aes 256 256 256\n")
    assert translate(text).body["proposals"] == [
        "aes256-sha1-modp1536",
        "aes256-sha256-modp1536",
    ]


@pytest.mark.parametrize(
    ("group", "name"), [("2", "modp1024"), ("14", "modp2048"), ("19", "ecp256")]
)
def test_the_isakmp_group_is_the_ike_dh_group(group: str, name: str) -> None:
    text = edited(" group 5\n", f" group {group}\n")
    assert translate(text).body["proposals"][0] == f"aes128-sha1-{name}"


def test_3des_has_no_key_lengths() -> None:
    text = edited(" encryption aes\n", " encryption 3des\n")
    assert translate(text).body["proposals"] == ["3des-sha1-modp1536"]


def test_esp_transform_cipher_and_integrity() -> None:
    text = edited(
        " set security-association transform esp-aes esp-sha-hmac\n",
        " set security-association transform esp-3des esp-sha256-hmac\n",
    )
    assert child(translate(text))["esp_proposals"] == ["3des-sha256-modp1536"]


def test_without_set_pfs_the_esp_proposals_have_no_dh_group() -> None:
    text = edited(" set pfs group5\n", "")
    assert child(translate(text))["esp_proposals"] == ["aes128-sha1", "aes192-sha1", "aes256-sha1"]


def test_pfs_in_another_group_than_ike() -> None:
    text = edited(" set pfs group5\n", " set pfs group14\n")
    assert child(translate(text))["esp_proposals"][0] == "aes128-sha1-modp2048"
    assert translate(text).body["proposals"][0] == "aes128-sha1-modp1536"


def test_without_its_own_lifetime_the_policy_runs_on_the_global_one() -> None:
    text = edited(" set security-association lifetime seconds 1800\n", "")
    text = edited(
        "crypto ipsec security-association lifetime seconds 1800\n",
        "crypto ipsec security-association lifetime seconds 3600\n",
        text,
    )
    assert child(translate(text))["life_time"] == "3600s"


def test_without_always_up_the_child_is_trapped() -> None:
    text = edited(" set security-association always-up\n", "")
    assert child(translate(text))["start_action"] == "trap"


def test_without_keepalive_there_is_no_dpd() -> None:
    text = edited(" keepalive interval 15 always-send\n", "")
    assert "dpd_delay" not in translate(text).body


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ("fqdn fitel-tunnel-1.example.com", "fqdn:fitel-tunnel-1.example.com"),
        ("user-fqdn vpn@example.com", "email:vpn@example.com"),
        ("address 192.0.2.7", "192.0.2.7"),
    ],
)
def test_self_identity_kinds_are_swanctl_identity_prefixes(identity: str, expected: str) -> None:
    text = edited(f" self-identity address {DEVICE}\n", f" self-identity {identity}\n")
    connection = translate(text)
    assert connection.body["local"]["id"] == expected
    assert connection.psk_owners == (expected,)


def test_an_incomplete_self_identity_is_refused() -> None:
    text = edited(f" self-identity address {DEVICE}\n", " self-identity fqdn\n")
    with pytest.raises(TranslationError, match="'self-identity fqdn' in 'crypto isakmp profile"):
        translate(text)


def test_without_self_identity_the_local_address_is_the_identity() -> None:
    text = edited(f" self-identity address {DEVICE}\n", "")
    assert translate(text).body["local"]["id"] == DEVICE


def test_without_self_identity_nor_local_address_the_own_address_is_used() -> None:
    text = edited(f" self-identity address {DEVICE}\n", "")
    text = edited(f" local-address {DEVICE}\n", "", text)
    body = translate(text).body
    assert body["local"]["id"] == OWN
    assert body["local_addrs"] == ["198.19.1.2"]


def test_aggressive_initiate_mode() -> None:
    text = edited(" hash sha\n", " hash sha\n initiate-mode aggressive\n")
    assert translate(text).body["aggressive"] == "yes"


def test_main_initiate_mode_is_not_aggressive() -> None:
    text = edited(" hash sha\n", " hash sha\n initiate-mode main\n")
    assert translate(text).body["aggressive"] == "no"


def test_ike_version_2_rekeys_instead_of_reauthenticating() -> None:
    body = translate(edited(" ike-version 1\n", " ike-version 2\n")).body
    assert body["version"] == "2"
    assert ike_lifetime(body, "rekey_time") == 28800
    assert "reauth_time" not in body


def test_without_isakmp_lifetime_the_default_applies() -> None:
    """FITELnet's default ISAKMP SA lifetime, 86400 s (fitelnet.vocabulary)."""
    text = edited(" lifetime 28800\n", "")
    assert ike_lifetime(translate(text).body, "reauth_time") == 86400


def test_a_selector_prefix_is_a_traffic_selector() -> None:
    text = edited(
        " src 1 ipv4 any\n dst 1 ipv4 any\n",
        " src 1 ipv4 172.30.0.0/16\n dst 1 ipv4 192.168.100.0/24\n",
    )
    child_sa = child(translate(text))
    assert child_sa["local_ts"] == ["172.30.0.0/16"]
    assert child_sa["remote_ts"] == ["192.168.100.0/24"]


def test_two_tunnels_give_two_connections_each_with_its_key() -> None:
    second = (
        ARTICLE.replace("sakuratokyo", "osaka")
        .replace("interface Tunnel 1", "interface Tunnel 2")
        .replace(ARTICLE_PSK, "ANOTHER-KEY")
        .replace(ROUTER, "198.51.100.1")
    )
    connections = device_connections(ARTICLE + "!\n" + second, LAB, own_address=OWN)
    assert [c.name for c in connections] == ["tunnel1", "tunnel2"]
    assert [c.psk for c in connections] == [ARTICLE_PSK, "ANOTHER-KEY"]
    assert [c.body["remote_addrs"] for c in connections] == [["198.19.0.1"], [UNREACHABLE]]


# ---------------------------------------------------------------- refusals


def test_a_line_outside_the_vocabulary_in_a_block_is_refused_with_its_number() -> None:
    text = edited(" set ip fragment post\n", " set ip fragment post\n set foo bar\n")
    number = line_of(text, " set foo bar")
    with pytest.raises(TranslationError) as refused:
        translate(text)
    assert str(refused.value) == (
        f"line {number}: 'set foo bar' in 'crypto ipsec policy' has no strongSwan translation"
    )


def test_an_unknown_top_level_crypto_line_is_refused_with_its_number() -> None:
    text = ARTICLE + "!\ncrypto pki trustpoint X\n"
    number = line_of(text, "crypto pki trustpoint X")
    with pytest.raises(TranslationError) as refused:
        translate(text)
    assert str(refused.value) == (
        f"line {number}: 'crypto pki trustpoint …' at top level has no strongSwan translation"
    )


def test_certificate_authentication_is_refused_with_its_line() -> None:
    """Only ``authentication pre-share`` is mapped: the lab's charons know only PSKs."""
    text = edited(" authentication pre-share\n", " authentication rsa-sig\n")
    with pytest.raises(TranslationError) as refused:
        translate(text)
    assert str(refused.value).startswith(
        f"line {line_of(text, ' authentication rsa-sig')}: 'authentication rsa-sig'"
        " in 'crypto isakmp policy'"
    )


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (" encryption aes\n", " encryption aes-gcm\n", "aes-gcm"),
        (" hash sha\n", " hash sha sha-384\n", "sha-384"),
        (" group 5\n", " group 21\n", "21"),
        (" set pfs group5\n", " set pfs group21\n", "group21"),
        (
            " set security-association transform esp-aes esp-sha-hmac\n",
            " set security-association transform esp-aes-gcm esp-sha-hmac\n",
            "esp-aes-gcm",
        ),
    ],
)
def test_a_value_without_a_strongswan_name_is_refused_with_its_line(
    old: str, new: str, named: str
) -> None:
    text = edited(old, new)
    number = line_of(text, new.rstrip("\n"))
    with pytest.raises(TranslationError) as refused:
        translate(text)
    assert str(refused.value) == (
        f"line {number}: '{named}' in '{new.strip()}' has no strongSwan name"
    )


@pytest.mark.parametrize(
    ("line", "block"),
    [
        (" set peer 203.0.113.77", "crypto isakmp profile"),
        (" group 14", "crypto isakmp policy"),
        (" set pfs group14", "crypto ipsec policy"),
    ],
)
def test_a_second_line_of_a_setting_the_f220_keeps_once_is_refused(line: str, block: str) -> None:
    """The device replaces such a line (``set peer`` typed twice leaves the second); a text
    holding both is not one the F220 shows, and taking either would be a guess."""
    header = next(raw for raw in ARTICLE.splitlines() if raw.startswith(block + " "))
    text = edited(header + "\n", f"{header}\n{line}\n")
    keyword = " ".join(line.split()[:-1])
    first = line_of(text, line)
    later = enumerate(text.splitlines()[first:], start=first + 1)
    second = next(n for n, raw in later if raw.strip().startswith(keyword))
    with pytest.raises(TranslationError) as refused:
        translate(text)
    assert str(refused.value) == (
        f"line {second}: a second '{keyword}' in '{block}' (line {first}); the F220 keeps one"
    )


def test_an_unknown_line_is_quoted_only_by_its_opening_words() -> None:
    """Another vendor's PSK line must not reach an error message whole."""
    text = ARTICLE + "!\ncrypto isakmp key fake-secret-psk address 198.51.100.1\n"
    with pytest.raises(TranslationError) as refused:
        translate(text)
    assert "fake-secret-psk" not in str(refused.value)
    assert "'crypto isakmp key …' at top level" in str(refused.value)


@pytest.mark.parametrize(
    "line",
    [
        " set mtu 1460",
        " set mss 1350",
        " set ip df-bit 1",
        " set udp-encapsulation nat-t keepalive interval 30 always-send",
    ],
)
def test_policy_lines_that_do_not_change_the_negotiation_are_accepted(line: str) -> None:
    text = edited(" set ip fragment post\n", f" set ip fragment post\n{line}\n")
    assert translate(text) == translate()


@pytest.mark.parametrize(
    "line",
    [
        "crypto isakmp log sa",
        "crypto isakmp keepalive",
        "crypto ipsec replay-check disable",
        "crypto isakmp negotiation always-up-params interval 100 max-initiate 10",
    ],
)
def test_top_level_lines_that_do_not_change_the_negotiation_are_accepted(line: str) -> None:
    assert translate(f"{ARTICLE}!\n{line}\n") == translate()


def test_lines_outside_crypto_blocks_are_not_checked() -> None:
    text = ARTICLE + "!\nhostname f220\n!\nrouter bgp 65000\n set foo bar\nexit\n"
    assert translate(text) == translate()


def test_a_map_naming_a_missing_profile_is_refused() -> None:
    text = edited(" set isakmp-profile sakuratokyo\n", " set isakmp-profile nowhere\n")
    with pytest.raises(TranslationError) as refused:
        translate(text)
    assert str(refused.value) == (
        "tunnel 1: 'crypto isakmp profile nowhere' is referenced but not configured"
    )


def test_a_tunnel_naming_a_missing_map_is_refused() -> None:
    text = edited(" tunnel mode ipsec map sakuratokyo\n", " tunnel mode ipsec map nowhere\n")
    with pytest.raises(TranslationError, match="'crypto map nowhere ipsec-isakmp' is referenced"):
        translate(text)


def test_a_selector_line_of_another_shape_is_refused() -> None:
    text = edited(" dst 1 ipv4 any\n", " dst 1 ipv6 any\n")
    with pytest.raises(TranslationError, match="'dst 1 ipv6 any' in 'crypto ipsec selector"):
        translate(text)


def test_no_tunnel_interface_means_no_connection() -> None:
    text = ARTICLE.removeprefix(TUNNEL_1)
    assert device_connections(text, LAB, own_address=OWN) == []


# ---------------------------------------------------------------- published configs
# tests/data/real_configs/README.md: each file either translates or is refused at a line.

REAL = DATA / "real_configs"
REAL_LAB = LabAddresses({"198.51.100.1": "198.19.0.1", "203.0.113.10": "198.19.0.2"})

#: No IPsec tunnel: ``interface Tunnel 1`` is ``tunnel mode srv6`` and no crypto line is
#: there (their ``set mtu`` sits in ``segment-routing srv6``, which is not checked).
NO_IPSEC = [
    "pyats_flexalgo_f220-pe2.cfg",
    "pyats_l3vpn_f220-p.cfg",
    "pyats_l3vpn_f221-ce1.cfg",
    "pyats_l3vpn_fx201-pe1.cfg",
]
#: Every crypto line mapped or left out on purpose.
TRANSLATED = ["cloudflare_early_main_mode.cfg"]
#: With the Cloudflare page's ``set udp-encapsulation-force`` (in ``crypto ipsec policy
#: IPsec_POLICY``, at that line), translated to ``encap = yes``.
FORCING_UDP = {
    "cloudflare_router1_ikev2.cfg": 25,
    "sakura_and_cloudflare_one_box.cfg": 77,
}


def real(name: str) -> str:
    return (REAL / name).read_text()


def translate_real(text: str) -> list[DeviceConnection]:
    return device_connections(text, REAL_LAB, own_address="203.0.113.10")


def test_every_published_config_is_classified_here() -> None:
    assert sorted(p.name for p in REAL.glob("*.cfg")) == sorted(
        [*NO_IPSEC, *TRANSLATED, *FORCING_UDP]
    )


@pytest.mark.parametrize("name", NO_IPSEC)
def test_configs_without_ipsec_translate_to_nothing(name: str) -> None:
    assert translate_real(real(name)) == []


def test_cloudflare_early_main_mode_translates() -> None:
    """mtu, mss, df-bit, fragment, the NAT-T keepalive and the top-level log, keepalive,
    always-up-params and replay-check lines are left out; the unused second ISAKMP policy
    ``P1-POLICY`` changes nothing."""
    [connection] = translate_real(real("cloudflare_early_main_mode.cfg"))
    body = connection.body
    assert body["version"] == "2"
    assert body["proposals"] == ["aes256-sha1-modp2048", "aes256-sha256-modp2048"]
    assert ike_lifetime(body, "rekey_time") == 14400
    assert "reauth_time" not in body
    assert body["aggressive"] == "no"
    assert body["local"]["id"] == "203.0.113.10"
    assert body["local_addrs"] == ["198.19.0.2"]
    assert body["remote_addrs"] == ["198.19.0.1"]
    assert "dpd_delay" not in body  # no keepalive line in the profile
    child_sa = child(connection)
    assert child_sa["esp_proposals"] == ["aes256-sha256"]  # no set pfs
    assert child_sa["life_time"] == "28800s"
    assert child_sa["start_action"] == "start"
    assert connection.psk == "secret-pre-shared-key-1"


@pytest.mark.parametrize(("name", "number"), FORCING_UDP.items())
def test_configs_forcing_udp_encapsulation_ask_charon_for_it(name: str, number: int) -> None:
    assert real(name).splitlines()[number - 1] == " set udp-encapsulation-force"
    forced = [c.name for c in translate_real(real(name)) if c.body.get("encap") == "yes"]
    assert forced == ["tunnel2" if "one_box" in name else "tunnel1"]


def test_cloudflare_router1_translates_without_that_line_too() -> None:
    text = edited(" set udp-encapsulation-force\n", "", real("cloudflare_router1_ikev2.cfg"))
    [connection] = translate_real(text)
    body = connection.body
    assert body["version"] == "2"
    assert body["aggressive"] == "yes"  # initiate-mode aggressive (swanctl: IKEv1 only)
    assert body["local"]["id"] == "fqdn:fitel-tunnel-1.example.com"
    assert body["local_addrs"] == ["198.19.0.2"]  # no local-address: the own address


def test_the_one_box_config_translates_without_that_line_too() -> None:
    text = edited(" set udp-encapsulation-force\n", "", real("sakura_and_cloudflare_one_box.cfg"))
    sakura, cloudflare = translate_real(text)
    assert (sakura.name, sakura.body["version"]) == ("tunnel1", "1")
    assert sakura.body["proposals"][0] == "aes128-sha1-modp1536"
    assert (cloudflare.name, cloudflare.body["version"]) == ("tunnel2", "2")
    assert cloudflare.body["local"]["id"] == "fqdn:fitel-tunnel-2.example.com"
    assert child(cloudflare)["esp_proposals"] == ["aes256-sha256"]


# ---------------------------------------------------------------- the VPC router's side


GLOBAL = "27.133.132.134"
ROUTER_LAB = LabAddresses({GLOBAL: "198.19.0.1", "126.169.118.242": "198.19.0.2"})


def v2_shape() -> dict[str, Any]:
    """The article's version-2 router settings (``Settings.Router``'s VPN part)."""
    vpn = json.loads((DATA / "sakura" / "settings_site_to_site_v2_shape.json").read_text())
    assert isinstance(vpn, dict)
    return {"Router": vpn}


def routers(settings: dict[str, Any], version: int) -> list[Connection]:
    return router_connections(settings, version=version, global_address=GLOBAL, lab=ROUTER_LAB)


def test_v1_router_offers_only_the_set_that_links_whatever_its_settings_say() -> None:
    """docs/domain.md#vpc-router-versions-1-and-2: AES128/SHA1/MODP1536, PFS group 5."""
    [connection] = routers(v2_shape(), version=1)
    body = connection.body
    assert body["proposals"] == ["aes128-sha1-modp1536"]
    assert child(connection)["esp_proposals"] == ["aes128-sha1-modp1536"]
    assert ike_lifetime(body, "reauth_time") == 28800
    assert child(connection)["life_time"] == "1800s"


def test_v2_router_offers_its_configured_suite_with_pfs_in_the_same_group() -> None:
    [connection] = routers(v2_shape(), version=2)
    assert connection.body["proposals"] == ["aes256-sha256-modp2048"]
    assert child(connection)["esp_proposals"] == ["aes256-sha256-modp2048"]


def test_v2_router_lifetimes_and_dpd_come_from_its_settings() -> None:
    [connection] = routers(v2_shape(), version=2)
    body = connection.body
    assert ike_lifetime(body, "reauth_time") == 28800
    assert body["rekey_time"] == "0s"
    assert child(connection)["life_time"] == "1800s"
    assert (body["dpd_delay"], body["dpd_timeout"]) == ("15s", "30s")


def test_v2_router_reads_numbers_sent_as_strings() -> None:
    settings = v2_shape()
    vpn = settings["Router"]["SiteToSiteIPsecVPN"]
    vpn["IKE"] = {"Lifetime": "14400", "DPD": {"Interval": "20", "Timeout": "60"}}
    vpn["ESP"] = {"Lifetime": "3600"}
    [connection] = routers(settings, version=2)
    body = connection.body
    assert ike_lifetime(body, "reauth_time") == 14400
    assert child(connection)["life_time"] == "3600s"
    assert (body["dpd_delay"], body["dpd_timeout"]) == ("20s", "60s")


@pytest.mark.parametrize("version", [1, 2])
def test_the_router_is_ikev1_main_mode_on_both_versions(version: int) -> None:
    """A Sakura VPC router speaks IKEv1 main mode only (docs/domain.md)."""
    [connection] = routers(v2_shape(), version=version)
    assert connection.body["version"] == "1"
    assert connection.body["aggressive"] == "no"


def test_each_peer_entry_is_a_connection_named_as_the_router_names_it() -> None:
    [connection] = routers(v2_shape(), version=2)
    assert connection.name == "peer-126.169.118.242-tunnel-vti"
    assert list(connection.body["children"]) == ["peer-126.169.118.242-tunnel-vti"]
    body = connection.body
    assert body["local_addrs"] == ["198.19.0.1"]
    assert body["remote_addrs"] == ["198.19.0.2"]
    assert body["local"] == {"auth": "psk", "id": GLOBAL}
    assert body["remote"] == {"auth": "psk", "id": "172.30.128.254"}  # RemoteID
    assert child(connection)["local_ts"] == child(connection)["remote_ts"] == ["0.0.0.0/0"]
    assert child(connection)["start_action"] == "start"
    assert connection.psk_owners == (GLOBAL, "172.30.128.254")


def test_an_empty_remote_id_wants_the_peer_address() -> None:
    settings = v2_shape()
    settings["Router"]["SiteToSiteIPsecVPN"]["Config"][0]["RemoteID"] = ""
    [connection] = routers(settings, version=2)
    assert connection.body["remote"]["id"] == "126.169.118.242"
    assert connection.psk_owners == (GLOBAL, "126.169.118.242")


def test_a_disabled_vpn_has_no_connections() -> None:
    settings = v2_shape()
    settings["Router"]["SiteToSiteIPsecVPN"]["Enabled"] = "False"
    assert routers(settings, version=2) == []


def test_a_router_without_vpn_settings_has_no_connections() -> None:
    assert routers({"Router": {}}, version=1) == []


def test_a_peer_the_lab_does_not_place_is_unreachable() -> None:
    settings = v2_shape()
    settings["Router"]["SiteToSiteIPsecVPN"]["Config"][0]["Peer"] = "192.0.2.99"
    [connection] = routers(settings, version=2)
    assert connection.body["remote_addrs"] == [UNREACHABLE]


# ---------------------------------------------------------------- the key stays out of sight


def test_the_psk_is_never_in_a_connections_repr() -> None:
    device = translate()
    [router] = routers(v2_shape(), version=2)
    assert router.psk == "THIS-IS-SECRET-KEY"
    for connection in (device, router):
        assert connection.psk not in repr(connection)
        assert connection.psk not in str(connection)
        assert not re.search("psk=", repr(connection))
