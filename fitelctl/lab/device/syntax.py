"""The commands the simulated F220 knows, mode by mode.

The IPsec lines follow published configs (docs/domain.md#ipsec-configuration-vocabulary)
and take their
values from ``fitelnet.vocabulary``; anything else is an error, as on the device.
The non-crypto lines are the small set a lab base config needs (the lab's choice):

    hostname NAME
    interface GigaEthernet 1/1        (input may say ``ge 1/1``)   → (config-if-ge 1/1)
     ip address A.B.C.D/LEN | ip address A.B.C.D M.M.M.M | ip address dhcp
     shutdown
    interface Tunnel N                                            → (config-if-tunnel N)
     tunnel mode ipsec map NAME
     ip address ... | shutdown
    ip route A.B.C.D/LEN | A.B.C.D M.M.M.M   GATEWAY | tunnel N

Real running configs (``tests/data/real_configs/``) add IPsec lines the lab validates
like the rest (``crypto isakmp keepalive``, ``crypto isakmp log …``, ``crypto isakmp
negotiation always-up-params …``, ``crypto ipsec replay-check disable``, ``set mtu``,
``set mss``, ``set udp-encapsulation nat-t keepalive …``, ``set udp-encapsulation-force``,
``hash`` with several algorithms, ``initiate-mode main|aggressive``, ``link-state
sync-sa``, ``tunnel mode srv6``) and many lines outside IPsec.  Those the lab does not
model: it takes them as they are, without checking their values (``<...>``): top-level
``aaa``, ``username``, ``logging``, ``no logging``, ``ip domain-name``, ``ip route vrf``,
``ipv6``; blocks ``ip vrf``, ``router``, ``line``, ``segment-routing`` and interfaces
other than GigaEthernet/Tunnel (Port-channel, Loopback, Management), whose lines are all
taken as they are; and, in interface sub-modes, any line whose first word is not one the
lab validates (``vlan-id``, ``channel-group``, ``isis …``).  A first word the lab does
not know at all is still ``Unrecognized``: the list is what published configs show.

Sub-mode prompt names are UNKNOWN publicly; the lab's choice is
``(config-ipsec-policy)``, ``(config-ipsec-selector)``, ``(config-isakmp-policy)``,
``(config-isakmp-profile)``, ``(config-crypto-map)``, ``(config-if-tunnel N)`` and the
real ``(config-if-ge 1/1)``; for the blocks it takes as they are, ``(config-WORD)``
after the header's first word (``(config-router)``; the real ``(config-line)`` fits)
and ``(config-if-KIND N)`` for interfaces.  Ranges no public source gives are the
lab's choice: lifetimes 60 to 604800 s, keepalive and NAT-T keepalive interval 1 to
3600 s, selector numbers 1 to 65535, tunnel numbers 1 to 255, ``set mtu`` 68 to 65535,
``set mss`` 1 to 65535, the always-up-params numbers 0 to 65535.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.lab.device.grammar import Command, Grammar

_GROUPS = "{" + "|".join(str(g) for g in vocab.DH_GROUPS) + "}"
_PFS_GROUPS = "{" + "|".join(f"group{g}" for g in vocab.DH_GROUPS) + "}"
_AES_BITS = "{" + "|".join(str(b) for b in vocab.AES_KEY_BITS) + "}"
_ESP_ENC = "{" + "|".join(vocab.ESP_ENCRYPTIONS) + "}"
_ESP_AUTH = "{" + "|".join(vocab.ESP_AUTHS) + "}"
_HASH = "{" + "|".join(vocab.ISAKMP_HASHES) + "}"
_LIFETIME = "<int:60-604800>"
_NUMBER = "<int:0-65535>"


def _key_sizes(words: Sequence[str]) -> int | None:
    """The last three words, MIN MAX DEFAULT, must satisfy MIN <= DEFAULT <= MAX."""
    low, high, default = (int(word) for word in words[-3:])
    if low > high:
        return len(words) - 2
    if not low <= default <= high:
        return len(words) - 1
    return None


def _config(
    syntax: str,
    key_len: int = 0,
    *,
    opens: str | None = None,
    check: Callable[[Sequence[str]], int | None] | None = None,
) -> Command:
    return Command(syntax, "config", key_len, opens=opens, check=check)


SHOW = [
    Command("show version", "show.version"),
    Command("show current.cfg", "show.current"),
    Command("show running-config", "show.current"),
    Command("show working.cfg", "show.working"),
    Command("show boot", "show.boot"),
    Command("show crypto sa", "show.crypto_sa"),
    Command("show config <file>", "show.config"),
]

USER = [
    Command("enable", "enable"),
    Command("exit", "logout"),
    Command("logout", "logout"),
    Command("no more", "more.off"),
    Command("more", "more.on"),
    Command("show version", "show.version"),
]

PRIVILEGED = [
    Command("enable", "noop"),
    Command("disable", "disable"),
    Command("exit", "logout"),
    Command("logout", "logout"),
    Command("configure terminal", "configure"),
    Command("no more", "more.off"),
    Command("more", "more.on"),
    *SHOW,
    Command("clear crypto sa", "clear.crypto_sa"),
    Command("show ssh", "show.ssh"),
    Command("disconnect ssh <int:0-255>", "disconnect.ssh"),
    Command("commit", "commit"),
    Command("refresh [moff]", "refresh"),
    Command("save [<file>] [moff]", "save"),
    Command("restore [moff]", "restore"),
    Command("load <file> [moff]", "load"),
    Command("boot configuration <file>", "boot.configuration"),
]

MODE_COMMANDS = [Command("exit", "exit"), Command("end", "end"), *SHOW]

GLOBAL_CONFIG = [
    _config("hostname <name>", 1),
    _config("interface GigaEthernet <port>", opens="if-ge"),
    _config("interface Tunnel <int:1-255>", opens="if-tunnel"),
    _config("ip route <prefix> <ipv4>"),
    _config("ip route <prefix> tunnel <int:1-255>"),
    _config("ip route <ipv4> <mask> <ipv4>"),
    _config("ip route <ipv4> <mask> tunnel <int:1-255>"),
    _config(f"crypto ipsec security-association lifetime seconds {_LIFETIME}", 4),
    _config("crypto ipsec policy <name>", opens="ipsec-policy"),
    _config("crypto ipsec selector <name>", opens="ipsec-selector"),
    _config("crypto isakmp policy <name>", opens="isakmp-policy"),
    _config("crypto isakmp profile <name>", opens="isakmp-profile"),
    _config("crypto map <name> ipsec-isakmp", 3, opens="crypto-map"),
    _config("crypto isakmp keepalive"),
    _config("crypto isakmp log {sa|session|negotiation-fail}"),
    _config(
        "crypto isakmp negotiation always-up-params interval "
        f"{_NUMBER} max-initiate {_NUMBER} max-pending {_NUMBER} delay {_NUMBER}",
        4,
    ),
    _config("crypto ipsec replay-check disable", 3),
    # Outside IPsec: taken as they are (see the module docstring).
    _config("aaa <...>"),
    _config("username <name> <...>", 2),
    _config("logging <...>"),
    _config("no logging <...>"),  # a saved setting (in a session, ``no`` removes instead)
    _config("ip domain-name <...>", 2),
    _config("ip route vrf <...>"),
    _config("ipv6 <...>"),
    _config("ip vrf <...>", opens="opaque"),
    _config("router <...>", opens="opaque"),
    _config("line <...>", opens="opaque"),
    _config("segment-routing <...>", opens="opaque"),
    _config("interface {Port-channel|Loopback|Management} <...>", opens="opaque"),
]

#: A line of a setting the lab does not model, taken as it is.
_AS_IS = Command("<...>", "config", verbatim=True)

_INTERFACE = [
    _config("ip address <prefix>", 2),
    _config("ip address <ipv4> <mask>", 2),
    _config("ip address dhcp", 2),
    _config("ip vrf <...>"),
    _config("shutdown"),
]

SUB_MODE_CONFIG: dict[str, list[Command]] = {
    "if-ge": _INTERFACE,
    "if-tunnel": [
        *_INTERFACE,
        _config("tunnel mode ipsec map <name>", 2),
        _config("tunnel mode srv6", 2),
        _config("link-state sync-sa", 1),
    ],
    "ipsec-policy": [
        _config(f"set pfs {_PFS_GROUPS}", 2),
        _config("set security-association always-up"),
        _config(f"set security-association lifetime seconds {_LIFETIME}", 3),
        _config(f"set security-association transform {_ESP_ENC} {_ESP_AUTH}", 3),
        _config(f"set security-association transform {_ESP_AUTH} {_ESP_ENC}", 3),
        _config(
            f"set security-association transform-keysize aes {_AES_BITS} {_AES_BITS} {_AES_BITS}",
            3,
            check=_key_sizes,
        ),
        _config("set ip df-bit {0|1}", 3),
        _config("set ip fragment {post|pre}", 3),
        _config("set mtu <int:68-65535>", 2),
        _config("set mss <int:1-65535>", 2),
        _config("set udp-encapsulation nat-t keepalive interval <int:1-3600> [always-send]", 2),
        _config("set udp-encapsulation-force"),
    ],
    "ipsec-selector": [
        _config("src <int:1-65535> ipv4 any", 2),
        _config("src <int:1-65535> ipv4 <prefix>", 2),
        _config("dst <int:1-65535> ipv4 any", 2),
        _config("dst <int:1-65535> ipv4 <prefix>", 2),
    ],
    "isakmp-policy": [
        _config("authentication pre-share", 1),
        _config("encryption {" + "|".join(vocab.ISAKMP_ENCRYPTIONS) + "}", 1),
        _config(f"encryption-keysize aes {_AES_BITS} {_AES_BITS} {_AES_BITS}", 1, check=_key_sizes),
        _config(f"hash {_HASH} [{_HASH}] [{_HASH}] [{_HASH}]", 1),
        _config("initiate-mode {main|aggressive}", 1),
        _config(f"group {_GROUPS}", 1),
        _config(f"lifetime {_LIFETIME}", 1),
    ],
    "isakmp-profile": [
        _config("local-address <ipv4>", 1),
        _config("self-identity address <ipv4>", 1),
        _config("self-identity fqdn <fqdn>", 1),
        _config("self-identity user-fqdn <user-fqdn>", 1),
        _config("set peer <ipv4>", 2),
        _config("ike-version {" + "|".join(str(v) for v in vocab.IKE_VERSIONS) + "}", 1),
        _config("local-key [ascii] <key>", 1),
        _config("keepalive interval <int:1-3600> [always-send]", 1),
        _config("set isakmp-policy <name>", 2),
        _config("set ipsec-policy <name>", 2),
    ],
    "crypto-map": [
        _config("match address <name>", 2),
        _config("set isakmp-profile <name>", 2),
    ],
    "opaque": [],
}

_SUB_MODE_PROMPTS: dict[str, Callable[[Sequence[str]], str]] = {
    "if-ge": lambda words: f"config-if-ge {words[2]}",
    "if-tunnel": lambda words: f"config-if-tunnel {words[2]}",
    "ipsec-policy": lambda _: "config-ipsec-policy",
    "ipsec-selector": lambda _: "config-ipsec-selector",
    "isakmp-policy": lambda _: "config-isakmp-policy",
    "isakmp-profile": lambda _: "config-isakmp-profile",
    "crypto-map": lambda _: "config-crypto-map",
    "opaque": lambda words: (
        f"config-if-{words[1].lower()} {' '.join(words[2:])}"
        if words[0] == "interface"
        else f"config-{words[0]}"
    ),
}

#: Modes where a line that starts with no keyword of the mode is taken as it is.
_AS_IS_MODES = frozenset({"if-ge", "if-tunnel", "opaque"})


def sub_mode_prompt(mode: str, header: str) -> str:
    """The text between the parentheses of a sub-mode prompt."""
    return _SUB_MODE_PROMPTS[mode](header.split())


def _config_mode_grammar(config_lines: list[Command], fallback: Command | None) -> Grammar:
    grammar = Grammar([*config_lines, *MODE_COMMANDS], fallback=fallback)
    grammar.mount("no", Grammar(config_lines, fallback=fallback))
    return grammar


def _fallback(mode: str) -> Command | None:
    return _AS_IS if mode in _AS_IS_MODES else None


#: Config lines alone (no exit/end/show/no): what a config file may contain.
CONFIG_LINES: dict[str, Grammar] = {
    "config": Grammar(GLOBAL_CONFIG),
    **{mode: Grammar(lines, fallback=_fallback(mode)) for mode, lines in SUB_MODE_CONFIG.items()},
}

#: What a session accepts in each mode.
MODES: dict[str, Grammar] = {
    "user": Grammar(USER),
    "privileged": Grammar(PRIVILEGED),
    "config": _config_mode_grammar(GLOBAL_CONFIG, None),
    **{
        mode: _config_mode_grammar(lines, _fallback(mode))
        for mode, lines in SUB_MODE_CONFIG.items()
    },
}
