"""Which leading words of a FITELnet config line name its setting (the line's *key*).

The F220 edits its config by key: typing ``group 14`` inside ``crypto isakmp policy X``
replaces ``group 5`` in place, and ``no group 5`` (or ``no group``) removes it.  The
differ needs the same notion to emit ONE replacing line for a changed value, and to
compare configs semantically (``set pfs group5`` versus ``set pfs group14`` is one
setting changed, not one line removed and another added).

The table is per block kind, because a word means something only where it is typed
(``lifetime`` in an ISAKMP policy, ``ip address`` in an interface).  The choices:

* Top level: ``hostname`` (one name per device); ``crypto ipsec security-association
  lifetime seconds`` (the global default: one value; ``seconds`` is part of the key
  because a ``kilobytes`` lifetime would be a separate setting, as on IOS-like CLIs);
  ``ip route DEST NEXTHOP`` (see below).
* ``crypto ipsec policy``: ``set pfs``, ``set security-association lifetime seconds``,
  ``set security-association transform``, ``set security-association transform-keysize``,
  ``set ip df-bit``, ``set ip fragment`` each hold one value; ``set security-association
  always-up`` is a flag (the whole line is the key, its value empty).  The transform's
  value is an unordered pair: the CLI takes ``esp-aes esp-sha-hmac`` and ``esp-sha-hmac
  esp-aes`` (the source article typed the second order in v2,
  docs/domain.md#ipsec-configuration-vocabulary), so the two compare equal; the differ
  still emits the target's own spelling.
* ``crypto ipsec selector``: ``src N`` / ``dst N`` — the selector number is part of the
  key (``*`` in the table: any word), since a selector may hold several numbered pairs.
* ``crypto isakmp policy``: ``authentication``, ``encryption``, ``encryption-keysize``,
  ``group``, ``hash``, ``lifetime``, ``initiate-mode``: one value each.  ``hash`` may
  list several algorithms (``hash sha sha-256`` in Cloudflare's published IKEv2 config),
  in any order.
* ``crypto isakmp profile``: ``local-address``, ``self-identity`` (one identity, whatever
  its kind: ``address``/``fqdn``/``user-fqdn`` is part of the value), ``set peer``,
  ``ike-version``, ``local-key`` (``[ascii] KEY`` is the value), ``keepalive``,
  ``set isakmp-policy``, ``set ipsec-policy``.
* ``crypto map``: ``match address``, ``set isakmp-profile``.
* ``interface``: ``ip address`` (one address per interface here), ``tunnel mode``,
  ``link-state``.
* Published configs also set, in ``crypto ipsec policy``, ``set mtu``, ``set mss`` and
  ``set udp-encapsulation`` (NAT-T keepalive), and at top level ``crypto isakmp
  negotiation always-up-params`` and ``crypto ipsec replay-check``: one value each.
* ``ip route``: the key is the destination AND the next hop (a gateway, or ``tunnel N``):
  two routes to one prefix through different next hops are two lines the device keeps
  side by side (floating/backup routes), so neither replaces the other.  The destination
  is normalised (``10.0.0.0 255.255.255.0`` = ``10.0.0.0/24``) so that a device that
  shows the other spelling does not get an add followed by a ``no`` of the same route.
  Any words after the next hop (e.g. a distance, if a config has one) are the value.
* Anything else (unknown lines, unknown blocks): the whole line is the key, so it
  matches only itself.  That is the safe default: a line we do not know is never
  mistaken for another, it is only ever removed by its exact text or added as is.

Which settings fitelctl manages (``managed_child``).  Inside a block that fitelctl
generates, a setting it never generates and that does not decide whether the VPC router
links is the operator's: the tunnel interface's ``ip address`` (BGP over IPsec needs it)
and ``link-state``, an IPsec policy's ``set mtu``/``set mss``/``set udp-encapsulation…``,
and any line this table does not know.  ``diff`` leaves them as they are; a rollback
(which restores a whole backup) still compares them.  ``initiate-mode`` is managed
although never generated: the VPC router speaks main mode only, so an ``initiate-mode
aggressive`` left in a managed policy is removed (main is the device's default).

Values compare as word lists (runs of spaces do not matter, letter case does: keys and
names are case-sensitive).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

#: Block kind (leading words of the header) → setting keys in it.  ``*`` stands for
#: any one word that belongs to the key (the selector number).  ``""``: top level.
KEYS: dict[str, tuple[str, ...]] = {
    "": (
        "hostname",
        "crypto ipsec security-association lifetime seconds",
        "crypto isakmp negotiation always-up-params",
        "crypto ipsec replay-check",
    ),
    "crypto ipsec policy": (
        "set pfs",
        "set security-association always-up",
        "set security-association lifetime seconds",
        "set security-association transform",
        "set security-association transform-keysize",
        "set ip df-bit",
        "set ip fragment",
        "set mtu",
        "set mss",
        "set udp-encapsulation",
    ),
    "crypto ipsec selector": ("src *", "dst *"),
    "crypto isakmp policy": (
        "authentication",
        "encryption",
        "encryption-keysize",
        "group",
        "hash",
        "lifetime",
        "initiate-mode",
    ),
    "crypto isakmp profile": (
        "local-address",
        "self-identity",
        "set peer",
        "ike-version",
        "local-key",
        "keepalive",
        "set isakmp-policy",
        "set ipsec-policy",
    ),
    "crypto map": ("match address", "set isakmp-profile"),
    "interface": ("ip address", "tunnel mode", "link-state"),
}

#: Known keys of settings that are the operator's, never fitelctl's (see above).
UNMANAGED_KEYS: dict[str, frozenset[tuple[str, ...]]] = {
    "crypto ipsec policy": frozenset(
        {("set", "mtu"), ("set", "mss"), ("set", "udp-encapsulation")}
    ),
    "interface": frozenset({("ip", "address"), ("link-state",)}),
}

#: Keys whose value words may come in any order.
UNORDERED_VALUES = frozenset({("set", "security-association", "transform"), ("hash",)})


@dataclass(frozen=True)
class Setting:
    """A config line as the device understands it: what it sets, and to what."""

    key: tuple[str, ...]
    value: tuple[str, ...]


@functools.lru_cache(maxsize=8192)
def setting(line: str, block: str | None = None) -> Setting:
    """The setting ``line`` makes at top level, or inside the block headed ``block``.

    Cached: a diff asks it of every line of both configs, and the same lines come back
    in every plan, check and verification of a run."""
    words = line.split()
    if block is None and words[:2] == ["ip", "route"]:
        return _route(words)
    length = _key_length(words, KEYS[""] if block is None else _block_keys(block))
    if length is None:
        return Setting(tuple(words), ())
    key, value = tuple(words[:length]), tuple(words[length:])
    if key in UNORDERED_VALUES:
        value = tuple(sorted(value))
    return Setting(key, value)


@functools.lru_cache(maxsize=8192)
def managed_child(line: str, block: str) -> bool:
    """Whether fitelctl owns the setting ``line`` makes inside the block headed ``block``."""
    keys = _block_keys(block)
    length = _key_length(line.split(), keys)
    if length is None:
        return False
    return tuple(line.split()[:length]) not in UNMANAGED_KEYS.get(_block_kind(block), ())


@functools.lru_cache(maxsize=1024)
def _block_kind(header: str) -> str:
    """The longest ``KEYS`` kind the header starts with ("" if none).

    Cached, like ``_patterns``: a diff asks this of the same few headers for every line
    of two configs (about a sixth of ``apply``'s CPU before)."""
    words = header.split()
    kinds = [kind for kind in KEYS if kind and words[: len(kind.split())] == kind.split()]
    return max(kinds, key=len) if kinds else ""


def _block_keys(header: str) -> tuple[str, ...]:
    """The keys of the header's block kind; none if the kind is unknown."""
    kind = _block_kind(header)
    return KEYS[kind] if kind else ()


def _key_length(words: list[str], keys: tuple[str, ...]) -> int | None:
    """How many leading words of ``words`` form the longest matching key, if any."""
    lengths = [
        len(pattern)
        for pattern in _patterns(keys)
        if len(words) >= len(pattern)
        and all(p in ("*", w) for p, w in zip(pattern, words, strict=False))
    ]
    return max(lengths, default=None)


@functools.cache
def _patterns(keys: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Each key of a ``KEYS`` entry as its words."""
    return tuple(tuple(key.split()) for key in keys)


def _route(words: list[str]) -> Setting:
    """``ip route DEST NEXTHOP [rest]``: DEST and NEXTHOP are the key."""
    destination, rest = _destination(words[2:])
    hop_length = 2 if rest[:1] == ["tunnel"] else 1
    key = ("ip", "route", destination, *rest[:hop_length])
    return Setting(key, tuple(rest[hop_length:]))


def _destination(words: list[str]) -> tuple[str, list[str]]:
    """The destination (as ``A.B.C.D/LEN`` when it parses) and the words after it."""
    if not words:
        return "", []
    if "/" in words[0]:
        return _network(*words[0].split("/", 1)) or words[0], words[1:]
    if len(words) >= 2 and (network := _network(words[0], words[1])):
        return network, words[2:]
    return words[0], words[1:]


def _network(address: str, mask: str) -> str | None:
    """``A.B.C.D`` with a length or a netmask, as ``A.B.C.D/LEN``; None if not a network."""
    try:
        if "." in mask:
            inverted = int(ipaddress.IPv4Address(mask)) ^ 0xFFFFFFFF
            if inverted & (inverted + 1):
                return None  # not a netmask (ipaddress would read it as a host mask)
        return str(ipaddress.IPv4Network(f"{address}/{mask}"))
    except ValueError:
        return None
