"""The lab grammar on the vocabulary of published running configs.

Real IPsec lines (Cloudflare's FITELnet guide) are validated like the rest; lines
outside IPsec that the lab does not model are taken as they are, but only under the
first words published configs show: a typo is still an error.
"""

from __future__ import annotations

import pytest

from fitelctl.lab.device.grammar import Failure, FailureKind, Parsed
from fitelctl.lab.device.syntax import CONFIG_LINES, MODES, sub_mode_prompt


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        ("config", "crypto isakmp keepalive"),
        ("config", "crypto isakmp log negotiation-fail"),
        (
            "config",
            "crypto isakmp negotiation always-up-params interval 100 max-initiate 10 "
            "max-pending 10 delay 1",
        ),
        ("config", "crypto ipsec replay-check disable"),
        ("ipsec-policy", "set mtu 1460"),
        ("ipsec-policy", "set mss 1350"),
        ("ipsec-policy", "set udp-encapsulation nat-t keepalive interval 30 always-send"),
        ("ipsec-policy", "set udp-encapsulation-force"),
        ("isakmp-policy", "hash sha sha-256"),
        ("isakmp-policy", "initiate-mode aggressive"),
        ("isakmp-profile", "self-identity fqdn fitel-tunnel-1.example.com"),
        ("if-tunnel", "link-state sync-sa"),
        ("if-tunnel", "tunnel mode srv6"),
    ],
)
def test_published_ipsec_lines_are_known(mode: str, line: str) -> None:
    result = CONFIG_LINES[mode].parse(line)
    assert isinstance(result, Parsed) and result.command.syntax != "<...>", result


@pytest.mark.parametrize(
    ("mode", "line", "kind"),
    [
        ("ipsec-policy", "set mtu 10", FailureKind.INVALID),
        ("ipsec-policy", "set udp-encapsulation nat-t keepalive interval 0", FailureKind.INVALID),
        ("ipsec-policy", "set udp-encapsulation-forced", FailureKind.INVALID),
        ("isakmp-policy", "initiate-mode passive", FailureKind.INVALID),
        ("isakmp-policy", "hash sha sha-265", FailureKind.INVALID),
        ("config", "crypto isakmp log everything", FailureKind.INVALID),
        ("config", "crypto ipsec replay-check enable", FailureKind.INVALID),
        ("if-tunnel", "tunnel mode gre", FailureKind.INVALID),
        ("if-tunnel", "tunnel mode ipsec map bad/name", FailureKind.INVALID),
        ("if-ge", "ip address 10.0.0.1 255.0.255.0", FailureKind.INVALID),
        ("config", "frobnicate 1", FailureKind.UNRECOGNIZED),
        ("config", "ip rout 10.0.0.0/8 tunnel 300", FailureKind.INVALID),
        ("isakmp-policy", "vlan-id 108", FailureKind.UNRECOGNIZED),
        ("crypto-map", "channel-group 1", FailureKind.UNRECOGNIZED),
    ],
)
def test_typos_in_ipsec_and_unknown_first_words_are_still_errors(
    mode: str, line: str, kind: FailureKind
) -> None:
    for grammar in (CONFIG_LINES[mode], MODES[mode]):
        result = grammar.parse(line)
        assert isinstance(result, Failure) and result.kind is kind, (line, result)


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        ("config", "aaa authentication login default local login"),
        ("config", "username iida privilege 15 password 2 $1$WfofCXqw$nkdx.2.cqMfPTbWxBcqCK0"),
        ("config", "no logging console"),
        ("config", "ip route vrf 1 0.0.0.0 0.0.0.0 10.1.11.1"),
        ("config", "ipv6 route vrf 1 ::/0 2001:db8:1:11::1"),
        ("if-ge", "vlan-id 108"),
        ("if-ge", "channel-group 1080000"),
        ("if-ge", "ip vrf forwarding 1"),
        ("if-tunnel", "ipv6 enable"),
        ("opaque", "neighbor 2001:db8:0:12::1 remote-as 65000"),
        ("opaque", "exit"),
    ],
)
def test_lines_outside_ipsec_are_taken_as_they_are(mode: str, line: str) -> None:
    result = CONFIG_LINES[mode].parse(line)
    assert isinstance(result, Parsed), result
    assert " ".join(result.words) == line


def test_blocks_outside_ipsec_open_a_sub_mode_that_takes_any_line() -> None:
    for header, prompt in [
        ("router bgp 65000", "config-router"),
        ("ip vrf 1", "config-ip"),
        ("line telnet", "config-line"),
        ("segment-routing srv6", "config-segment-routing"),
        ("interface Port-channel 1010000", "config-if-port-channel 1010000"),
    ]:
        result = MODES["config"].parse(header)
        assert isinstance(result, Parsed) and result.command.opens == "opaque", header
        assert sub_mode_prompt("opaque", " ".join(result.words)) == prompt
    assert isinstance(MODES["opaque"].parse("end"), Parsed)
    assert MODES["opaque"].parse("end").command.action == "end"  # type: ignore[union-attr]
