"""Read a VPC router's strongSwan (charon) log and say in one line what failed.

Pure: text in, a ``Diagnosis`` out, so it works the same on a live download, a
saved file and the lab's generated logs.

charon tags each line of a negotiation with the IKE_SA's number (``<2>``, then
``<peer-…-tunnel-vti|2>`` once a peer config is chosen), so lines are grouped
into attempts by that number; a new main-mode (or IKEv2) request under a number
already used starts a new attempt (charon restarted).  The latest outcome line
from the office's address decides, in strongSwan 5.9's words:

* ``CHILD_SA … established with SPIs``               → ``ok``
* ``no proposal found`` (main mode)                    → ``proposal_mismatch_main_mode``
* ``no matching proposal found`` (quick mode)          → ``proposal_mismatch_quick_mode``
* ``decryption failed`` / ``could not decrypt payloads``
  (the first message encrypted with the PSK)           → ``psk_mismatch``
* ``no peer config found`` (the identity matches no RemoteID)
  or ``no IKE config found`` (no peer entry for the address) → ``id_mismatch``
* ``no IKE config found`` for an IKEv2 request         → ``proposal_mismatch_main_mode``
  (the router speaks IKEv1 only; ``fitelctl.ike`` files it there too)
* ``Aggressive Mode PSK disabled for security reasons``
  (``sa/ikev1/tasks/aggressive_mode.c``)               → ``proposal_mismatch_main_mode``
* nothing from the office at all                       → ``no_response``

The router initiates too (strongSwan 5.9, ``sa/ikev1/tasks/main_mode.c``,
``sa/ikev1/task_manager_v1.c``, ``sa/ike_sa.c``, ``sa/ikev1/tasks/informational.c``):

* ``establishing IKE_SA failed, peer not responding``  → ``no_response``
  (so is an attempt of its own still retransmitting with nothing received)
* ``received NO_PROPOSAL_CHOSEN error notify``         → the phase it came in:
  ``proposal_mismatch_quick_mode`` once ``IKE_SA … established`` was logged
  for that attempt, ``proposal_mismatch_main_mode`` before.  ``IKE_SA …
  established`` alone is never ``ok``: only a CHILD_SA is.  The router's log
  does not say which of its proposal's parameters the F220 refused: the detail
  names the F220's block to compare, and in quick mode the lines the router's
  one suite (main mode's ``selected proposal``) asks for.
* ``IDir 'X' does not match to 'Y'`` (``main_mode.c``: the F220 presents X,
  the router's RemoteID is Y)                          → ``id_mismatch``

``ignoring IKE_SA setup from X, per-IP half-open IKE_SA limit of 5 reached``
(``network/receiver.c``) means the office's own attempts piled up half-open
(each waits 30 s to time out) and the router now drops new ones unanswered:
when that is the office's latest line, the verdict is the cause of the first
failure since its last success, with ``rate_limited`` set and said in the detail.

These messages were checked on real charons' logs (the interop bench's,
``tests/data/real_charon_logs``).

An attempt that started after the latest outcome and never finished makes the
verdict ``unknown``: whatever was true before, the newest negotiation did not
complete.  When charon printed ``received proposals`` / ``configured
proposals``, ``proposal_advice`` compares them so the detail names the
parameter and the FITELnet line to change; ``fitelctl.ops.diagnose`` uses the
same function on settings read from both routers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from fitelctl.fitelnet.algorithms import (
    AES,
    CIPHERS,
    DH_GROUP_BY_CHARON,
    HASH_BY_CHARON,
    HASH_BY_WORD,
)
from fitelctl.ike import NegotiationCause
from fitelctl.redact import SECRETS

#: the negotiation model's causes, and "the log does not say"
DiagnosisCause = NegotiationCause | Literal["unknown"]
Phase = Literal["main", "quick"]


@dataclass(frozen=True)
class Diagnosis:
    """A verdict: the cause, one line saying what to change, and the lines it rests on."""

    cause: DiagnosisCause
    detail: str
    evidence: list[str] = field(default_factory=list)
    #: the router drops the office's new negotiations (per-IP half-open IKE_SA limit)
    rate_limited: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "cause": self.cause,
            "detail": self.detail,
            "evidence": self.evidence,
            "rate_limited": self.rate_limited,
        }


def diagnose_log(text: str, *, peer: str | None = None) -> Diagnosis:
    """The verdict of the latest negotiation (from ``peer``, the office's address, when given).

    The detail quotes the log (the identity the F220 presents, addresses): registered
    secrets are masked in it, as in the evidence.
    """
    verdict = _verdict(text, peer)
    return replace(verdict, detail=SECRETS.redact(verdict.detail))


def _verdict(text: str, peer: str | None) -> Diagnosis:
    lines = text.splitlines()
    attempts = _attempts(lines)
    ours = [a for a in attempts if peer is None or a.peer == peer]
    limited = _rate_limited(lines, peer)
    if not ours:
        return _silent(peer, attempts) if limited is None else _limited_only(limited)
    outcomes = sorted((o for attempt in ours for o in attempt.outcomes), key=lambda o: o.index)
    latest = outcomes[-1] if outcomes else None
    if limited is not None and limited.index > max(a.first for a in ours):
        theirs = [o for o in outcomes if o.attempt.peer == limited.peer]
        return _rate_limited_verdict(limited, theirs)
    unfinished = [a for a in ours if a.started and (latest is None or a.first > latest.index)]
    if unfinished:
        return _unfinished(unfinished[-1])
    if latest is None:
        who = ours[-1].peer or "the peer"
        return Diagnosis(
            "unknown",
            f"the log shows traffic with {who} (DPD, rekeys) but no negotiation outcome: "
            "the tunnel was negotiated before the log begins",
        )
    return _judge(latest)


# --- grouping lines into attempts -------------------------------------------------------

#: ``charon: 16[NET] <peer-…|2> message``; lines with no IKE_SA context are not about one.
_CHARON = re.compile(r"\bcharon\S*: \d+\[(?P<group>\w+)\] <(?P<context>[^>]*)> (?P<message>.*)$")
_START = re.compile(
    r"parsed (?:(?:ID_PROT|AGGRESSIVE) request 0 \[ SA\b|IKE_SA_INIT request 0 )"
    r"|initiating Main Mode IKE_SA "
)
_ADDRESS = re.compile(
    r"received packet: from (?P<source>[0-9.]+)\[|sending packet: from \S+ to (?P<dest>[0-9.]+)\["
)
_CONNECTION = re.compile(r"^peer-(?P<peer>[0-9.]+)-")

_Kind = Literal[
    "ok", "main", "quick", "psk", "remote_id", "no_config", "silent", "refused", "aggressive"
]
_OUTCOMES: tuple[tuple[str, _Kind], ...] = (
    ("established with SPIs", "ok"),
    ("establishing IKE_SA failed, peer not responding", "silent"),
    # the office refused the router's proposal: main or quick mode, by what came before
    ("received NO_PROPOSAL_CHOSEN error notify", "refused"),
    ("no matching proposal found", "quick"),
    ("no proposal found", "main"),
    ("decryption failed", "psk"),
    ("could not decrypt payloads", "psk"),
    ("no peer config found", "remote_id"),
    # the router initiated: the identity the F220 answered with is not its RemoteID
    ("' does not match to '", "remote_id"),
    ("no IKE config found", "no_config"),
    ("Aggressive Mode PSK disabled", "aggressive"),
)
#: lines worth showing beside the outcome, and those the detail is read from
_CONTEXT = (
    "IKE_SA_INIT",
    "selected proposal",
    "proposals:",
    "peer configs matching",
    " established between ",
    "giving up after",
)
#: charon's receiver drops a new IKE_SA from an address (no IKE_SA, so no ``<N>`` context)
_HALF_OPEN_LIMIT = re.compile(
    r"\bcharon\S*: \d+\[NET\] ignoring IKE_SA setup from (?P<peer>[0-9.]+), "
    r"per-IP half-open IKE_SA limit of (?P<limit>\d+) reached"
)


@dataclass(frozen=True)
class _Outcome:
    index: int
    kind: _Kind
    line: str
    attempt: _Attempt
    #: the attempt's lines since its previous outcome: what led to this one
    lead_up: tuple[str, ...]


@dataclass
class _Attempt:
    """One IKE_SA's lines; ``started`` when its first request is in the log."""

    first: int
    lines: list[str] = field(default_factory=list)
    started: bool = False
    #: the router itself started it (``initiating Main Mode``)
    initiated: bool = False
    ikev2: bool = False
    peer: str | None = None
    only_packets: bool = True
    #: main mode completed (``IKE_SA … established``)
    established: bool = False
    #: the router's own first request resent this often, with nothing received
    retransmits: int = 0
    received: bool = False
    outcomes: list[_Outcome] = field(default_factory=list)
    since_outcome: list[str] = field(default_factory=list)

    def add(self, index: int, line: str, group: str, message: str, context: str) -> None:
        self.lines.append(line)
        self.only_packets = self.only_packets and group == "NET"
        self.peer = self.peer or _peer_in(message, context)
        kind = next((k for needle, k in _OUTCOMES if needle in message), None)
        if kind == "refused":
            kind = "quick" if self.established else "main"
        self.established = self.established or " established between " in message
        self.retransmits += "sending retransmit " in message
        self.received = self.received or "received packet: " in message
        if kind is None:
            self.since_outcome.append(line)
        elif not (self.outcomes and self.outcomes[-1].kind == kind and not self.since_outcome):
            # (a failure charon reports over several lines counts once, from its first)
            self.outcomes.append(_Outcome(index, kind, line, self, tuple(self.since_outcome)))
            self.since_outcome = []


def _attempts(lines: Iterable[str]) -> list[_Attempt]:
    by_number: dict[str, _Attempt] = {}
    ordered: list[_Attempt] = []
    for index, line in enumerate(lines):
        match = _CHARON.search(line)
        if match is None:
            continue
        number = match["context"].rpartition("|")[2]
        message = match["message"]
        attempt = by_number.get(number)
        starts = _START.search(message) is not None
        # the request's own "received packet" line comes first: it belongs to the attempt
        if attempt is None or (starts and not attempt.only_packets):
            attempt = by_number[number] = _Attempt(first=index)
            ordered.append(attempt)
        if starts:
            attempt.started, attempt.ikev2 = True, "IKE_SA_INIT" in message
            attempt.initiated = message.startswith("initiating ")
        attempt.add(index, line, match["group"], message, match["context"])
    return ordered


def _peer_in(message: str, context: str) -> str | None:
    match = _ADDRESS.search(message)
    if match:
        return match["source"] or match["dest"]
    named = _CONNECTION.search(context)
    return named["peer"] if named else None


# --- verdicts -----------------------------------------------------------------------------


def _silent(peer: str | None, attempts: list[_Attempt]) -> Diagnosis:
    others = [a for a in attempts if a.peer and a.peer != peer]
    heard = sorted({a.peer for a in others if a.peer and (a.received or not a.initiated)})
    unanswered = sorted({a.peer for a in others if a.peer and a.initiated} - set(heard))
    seen = f" (it did from {', '.join(heard)})" if heard else ""
    who = peer or "any peer"
    peer_setting = (
        f"; it initiates to {', '.join(unanswered)} instead, which does not answer: if the "
        f"F220 is at {who}, set the router's Peer to {who}; else"
        if unanswered and peer
        else ":"
    )
    return Diagnosis(
        "no_response",
        f"the router logged nothing received from {who}{seen}{peer_setting} the F220 is not "
        "initiating, or its packets do not reach the router (check `set peer`, "
        "`set security-association always-up`, and the path and NAT to the router's "
        "global address, UDP 500/4500)",
    )


def _unfinished(attempt: _Attempt) -> Diagnosis:
    who = attempt.peer or "the peer"
    evidence = _evidence([attempt.lines[0], attempt.lines[-1]])
    if attempt.initiated and attempt.retransmits and not attempt.received:
        return Diagnosis(
            "no_response",
            f"the router is initiating main mode to {who} and has resent its first request "
            f"{attempt.retransmits} time(s) without an answer so far: {NOT_ANSWERING}",
            evidence,
        )
    reached = attempt.established
    where = (
        "main mode completed but quick mode did not (no CHILD_SA)"
        if reached
        else "main mode did not complete"
    )
    return Diagnosis(
        "unknown",
        f"the latest negotiation with {who} has not finished: {where}; "
        "if it stays so, the router's answers may not reach the F220 (check the return path "
        "and NAT, UDP 500/4500) and the F220's own log",
        evidence,
    )


NOT_ANSWERING = (
    "the F220 does not answer the router (no IPsec config for the router, `set peer` "
    "elsewhere, or UDP 500/4500 from the router does not reach it: check the path, NAT and "
    "filters)"
)


@dataclass(frozen=True)
class _Limit:
    index: int
    line: str
    peer: str
    limit: str


def _rate_limited(lines: list[str], peer: str | None) -> _Limit | None:
    """The latest ``per-IP half-open IKE_SA limit`` line about ``peer`` (any peer if None)."""
    for index in range(len(lines) - 1, -1, -1):
        match = _HALF_OPEN_LIMIT.search(lines[index])
        if match and (peer is None or match["peer"] == peer):
            return _Limit(index, lines[index], match["peer"], match["limit"])
    return None


def rate_limit_note(lines: Iterable[str]) -> str | None:
    """What the latest half-open-limit line among ``lines`` means, if there is one."""
    limit = _rate_limited(list(lines), None)
    return _limiting(limit) if limit else None


def _limiting(limit: _Limit) -> str:
    return (
        f"the router is now rate-limiting {limit.peer}: it ignores its new negotiations "
        f"(per-IP half-open IKE_SA limit of {limit.limit} reached) until the half-open ones "
        "time out (30 s each by default), and every failed retry starts another"
    )


def _rate_limited_verdict(limit: _Limit, outcomes: list[_Outcome]) -> Diagnosis:
    """The first failure since the office's last success explains the pile-up."""
    last_ok = max((i for i, o in enumerate(outcomes) if o.kind == "ok"), default=-1)
    first = next((o for o in outcomes[last_ok + 1 :] if o.kind != "ok"), None)
    if first is None:
        return Diagnosis(
            "unknown",
            f"{_limiting(limit)}; its earlier negotiations stayed half-open without a logged "
            "failure: the router's answers may not reach the F220 (check the return path and "
            "NAT, UDP 500/4500)",
            _evidence([limit.line]),
            rate_limited=True,
        )
    cause = _judge(first)
    return Diagnosis(
        cause.cause,
        f"{cause.detail}; {_limiting(limit)}",
        [*cause.evidence, *_evidence([limit.line])],
        rate_limited=True,
    )


def _limited_only(limit: _Limit) -> Diagnosis:
    return Diagnosis(
        "unknown",
        f"{_limiting(limit)}; the log no longer holds the negotiations that failed first "
        "(compare both sides' settings)",
        _evidence([limit.line]),
        rate_limited=True,
    )


def _judge(outcome: _Outcome) -> Diagnosis:
    attempt = outcome.attempt
    evidence = _evidence(
        [attempt.lines[0], *(line for line in outcome.lead_up if _is_context(line)), outcome.line]
    )
    who = attempt.peer or "the peer"
    if outcome.kind == "silent":
        return Diagnosis(
            "no_response",
            f"the router initiated main mode to {who} and gave up: nothing came back after "
            f"its retransmits; {NOT_ANSWERING}",
            evidence,
        )
    if outcome.kind == "ok":
        selected = _selected(outcome.lead_up, "ESP:")
        algorithms = f" ({selected})" if selected else ""
        return Diagnosis(
            "ok", f"the latest negotiation with {who} established the tunnel{algorithms}", evidence
        )
    if outcome.kind in ("main", "quick"):
        phase: Phase = "main" if outcome.kind == "main" else "quick"
        offered = _proposals(outcome.lead_up, "received", phase)
        wanted = _proposals(outcome.lead_up, "configured", phase)
        advice = (
            proposal_advice(phase, offered, wanted, router_version=_version(wanted))
            if offered and wanted
            else ""
        )
        if not advice and "received NO_PROPOSAL_CHOSEN" in outcome.line:
            advice = _refused_by_the_office(phase, outcome.lead_up)
        return Diagnosis(
            "proposal_mismatch_main_mode" if phase == "main" else "proposal_mismatch_quick_mode",
            f"{PHASE_NAMES[phase]} proposal refused{_by_the_office(outcome)}: "
            + (advice or "the log does not list the proposals; compare both sides' settings"),
            evidence,
        )
    if outcome.kind == "aggressive":
        return Diagnosis("proposal_mismatch_main_mode", AGGRESSIVE_DETAIL, evidence)
    if outcome.kind == "psk":
        message = "answer to its identity message" if attempt.initiated else "identity message"
        return Diagnosis(
            "psk_mismatch",
            f"the router could not decrypt the F220's {message}: the "
            "pre-shared keys differ; set the same key in the F220's `local-key` (crypto isakmp "
            f"profile) and the router's PreSharedSecret for {who}",
            evidence,
        )
    if outcome.kind == "remote_id":
        return Diagnosis("id_mismatch", _remote_id_detail(outcome, who), evidence)
    if attempt.ikev2:
        return Diagnosis("proposal_mismatch_main_mode", IKEV2_DETAIL, evidence)
    return Diagnosis("id_mismatch", no_peer_entry_detail(who), evidence)


def _by_the_office(outcome: _Outcome) -> str:
    """When the F220 refused the router's own proposal, and how far the router had got."""
    if "received NO_PROPOSAL_CHOSEN" not in outcome.line:
        return ""
    after = " after main mode completed" if outcome.kind == "quick" else ""
    return f" by the F220 (NO_PROPOSAL_CHOSEN to the router's request{after})"


IKEV2_DETAIL = (
    "the F220 speaks IKEv2 but the router's site-to-site VPN is IKEv1 main mode only: "
    "set `ike-version 1` in the F220's `crypto isakmp profile`"
)
AGGRESSIVE_DETAIL = (
    "the F220 starts phase 1 in aggressive mode, which the router refuses with a pre-shared "
    "key (strongSwan: Aggressive Mode PSK disabled): set `initiate-mode main` in the F220's "
    "`crypto isakmp policy` (or remove its `initiate-mode aggressive`)"
)
PHASE_NAMES: dict[Phase, str] = {"main": "main mode (IKE)", "quick": "quick mode (ESP)"}


def no_peer_entry_detail(address: str, known: Iterable[str] = ()) -> str:
    """The router has no site-to-site peer entry for the address the F220 comes from."""
    peers = ", ".join(known)
    has = f" (its peers: {peers})" if peers else ""
    return (
        f"the router has no site-to-site peer for {address}{has}: set its Peer to {address}, "
        "the F220's address as the router sees it (after NAT)"
    )


_LOOKING_FOR = re.compile(r"peer configs matching \S+?\.\.\.[0-9.]+\[(?P<id>[^\]]*)\]")
_IDIR_MISMATCH = re.compile(r"IDir '(?P<presented>[^']*)' does not match to '(?P<wanted>[^']*)'")


def _remote_id_detail(outcome: _Outcome, who: str) -> str:
    answered = _IDIR_MISMATCH.search(outcome.line)
    if answered:
        presented, wanted = answered["presented"], answered["wanted"]
        return (
            f"the F220 answers the router with identity {presented}, but the router's RemoteID "
            f"for {who} is {wanted}: set `{_self_identity(wanted)}` in the F220's `crypto "
            f"isakmp profile`, or the router's RemoteID to {presented}"
        )
    presented = next(
        (m["id"] for line in outcome.lead_up if (m := _LOOKING_FOR.search(line))), None
    )
    identity = f"identity {presented}" if presented else "an identity"
    return (
        f"the F220 presents {identity}, which no RemoteID of the router's peer entry for "
        f"{who} matches: set that RemoteID to it, or the F220's `self-identity address` "
        "(crypto isakmp profile) to the RemoteID"
    )


def _self_identity(identity: str) -> str:
    """The F220 line that presents ``identity`` (charon's form: an address, an FQDN, an email)."""
    if re.fullmatch(r"[0-9.]+", identity):
        return f"self-identity address {identity}"
    kind = "user-fqdn" if "@" in identity else "fqdn"
    return f"self-identity {kind} {identity}"


def _is_context(line: str) -> bool:
    return any(needle in line for needle in _CONTEXT)


def _selected(lines: Iterable[str], prefix: str) -> str | None:
    found = [
        line.split("selected proposal: ", 1)[1] for line in lines if "selected proposal" in line
    ]
    return next((p.strip() for p in reversed(found) if p.startswith(prefix)), None)


def _evidence(lines: Iterable[str]) -> list[str]:
    unique = dict.fromkeys(line.strip() for line in lines)
    return [SECRETS.redact(line) for line in unique]


# --- proposals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """One side's algorithms for one phase, in FITELnet words.

    ``groups`` is the DH group in main mode and the PFS group in quick mode
    (empty: no PFS).  Sets, because the F220 may offer several key lengths.
    """

    ciphers: frozenset[str]  # "aes", "3des", "des", "null"
    aes_bits: frozenset[int]
    hashes: frozenset[str]  # "sha", "sha-256", "sha-512", "md5"
    groups: frozenset[int]


_PROPOSALS = re.compile(r"(?P<side>received|configured) proposals: (?P<list>.*)$")
_AES = re.compile(rf"^{AES.charon}_(?P<bits>\d+)$")
#: charon's names of the ciphers named without a key length (AES's: ``_AES``)
_CIPHERS = {cipher.charon: cipher.word for cipher in CIPHERS if not cipher.keyed}


def _proposals(lines: Iterable[str], side: str, phase: Phase) -> Offer | None:
    """The last ``received``/``configured proposals`` list of the phase, as an ``Offer``."""
    prefix = "IKE:" if phase == "main" else "ESP:"
    listed = [m["list"] for line in lines if (m := _PROPOSALS.search(line)) and m["side"] == side]
    if not listed:
        return None
    words = [
        word
        for proposal in listed[-1].split(",")
        if proposal.strip().startswith(prefix)
        for word in proposal.strip().removeprefix(prefix).split("/")
    ]
    return _offer(words)


def _offer(words: list[str]) -> Offer:
    """strongSwan's algorithm names (``AES_CBC_256``, ``MODP_2048``, …) as an ``Offer``."""
    aes = [int(m["bits"]) for word in words if (m := _AES.match(word))]
    return Offer(
        ciphers=frozenset(
            {_CIPHERS[w] for w in words if w in _CIPHERS} | ({"aes"} if aes else set())
        ),
        aes_bits=frozenset(aes),
        hashes=frozenset(HASH_BY_CHARON[w].word for w in words if w in HASH_BY_CHARON),
        groups=frozenset(DH_GROUP_BY_CHARON[w].number for w in words if w in DH_GROUP_BY_CHARON),
    )


def _refused_by_the_office(phase: Phase, lead_up: Iterable[str]) -> str:
    """The F220 refused the router's proposal: its log says which block, not which line.

    The VPC router proposes one suite for both phases (PFS in its DH group), so in quick
    mode the suite main mode selected says what the F220's ESP policy must accept.
    """
    unknown = "the router's log does not say which parameter"
    if phase == "main":
        return (
            f"{unknown}: compare the F220's `encryption`, `encryption-keysize`, `hash` and "
            "`group` (crypto isakmp policy) with the router's EncryptionAlgo, HashAlgo and "
            "DHGroup"
        )
    selected = _selected(lead_up, "IKE:")
    suite = _offer(selected.removeprefix("IKE:").split("/")) if selected else None
    if suite is None or not (suite.ciphers and suite.hashes and suite.groups):
        return (
            f"{unknown}: compare the F220's `set security-association transform`, "
            "`set security-association transform-keysize` and `set pfs` (crypto ipsec policy) "
            "with the router's EncryptionAlgo, HashAlgo and DHGroup"
        )
    cipher, hash_, group = min(suite.ciphers), min(suite.hashes), min(suite.groups)
    bits = (
        f" (and {min(suite.aes_bits)} among the key lengths of its "
        "`set security-association transform-keysize`, if it has one)"
        if suite.aes_bits
        else ""
    )
    return (
        f"{unknown}; it proposes the suite main mode selected ({selected}) with PFS in that "
        f"group, so the F220's crypto ipsec policy needs `set security-association transform "
        f"esp-{cipher} {_esp_auth(hash_)}` and `set pfs group{group}`{bits}"
    )


def _version(wanted: Offer) -> int | None:
    """1 when the router asks for MODP_1536: a version-2 router cannot be set to group 5."""
    return 1 if 5 in wanted.groups else None


def _esp_auth(hash_: str) -> str:
    """The ESP transform word for an IKE hash word (itself when it has none)."""
    return HASH_BY_WORD[hash_].esp if hash_ in HASH_BY_WORD else hash_


_BLOCK: dict[Phase, str] = {"main": "crypto isakmp policy", "quick": "crypto ipsec policy"}


@dataclass(frozen=True)
class _Difference:
    label: str
    have: str
    want: str
    line: str  # the FITELnet line that fixes it
    knob: str = ""  # the version-2 router setting that could change instead
    note: str = ""


def proposal_advice(
    phase: Phase, offered: Offer, wanted: Offer, *, router_version: int | None = None
) -> str:
    """What differs between the F220's offer and what the router wants, and the line to set.

    Empty when every parameter has a value in common.  ``router_version`` 1 says
    the router's side cannot change; 2 or unknown names the router setting too.
    """
    differences = _differences(phase, offered, wanted)
    parts = [
        f"{d.label}: the F220 offers {d.have}, the router wants {d.want}: "
        f"set `{d.line}` ({_BLOCK[phase]}){d.note}"
        for d in differences
    ]
    if not parts:
        return ""
    knobs = list(dict.fromkeys(d.knob for d in differences if d.knob))
    if router_version == 1:
        parts.append("a version-1 router accepts only AES128, SHA1, group 5 and PFS group 5")
    elif knobs:
        parts[-1] += f", or instead change the router's {' and '.join(knobs)}"
    return "; ".join(parts)


def _differences(phase: Phase, offered: Offer, wanted: Offer) -> list[_Difference]:
    cipher = min(wanted.ciphers, default="aes")
    bits = min(wanted.aes_bits, default=128)
    hash_ = min(wanted.hashes, default="sha")
    esp_auth = _esp_auth(hash_)
    transform = f"set security-association transform esp-{cipher} {esp_auth}"
    found: list[_Difference] = []
    if not offered.ciphers & wanted.ciphers:
        line = f"encryption {cipher}" if phase == "main" else transform
        found.append(
            _Difference("encryption", _words(offered.ciphers), _words(wanted.ciphers), line)
        )
    elif wanted.aes_bits and not offered.aes_bits & wanted.aes_bits:
        keysize = (
            "encryption-keysize"
            if phase == "main"
            else "set security-association transform-keysize"
        )
        found.append(
            _Difference(
                "AES key length",
                _numbers(offered.aes_bits, suffix=" bits"),
                _numbers(wanted.aes_bits, suffix=" bits"),
                f"{keysize} aes {bits} {bits} {bits}",
                "EncryptionAlgo",
                ", or remove that line (the F220 then offers 128 to 256 bits)",
            )
        )
    if not offered.hashes & wanted.hashes:
        if phase == "main":
            found.append(
                _Difference(
                    "hash",
                    _words(offered.hashes),
                    _words(wanted.hashes),
                    f"hash {hash_}",
                    "HashAlgo",
                )
            )
        else:
            have = _words(_esp_auth(h) for h in offered.hashes)
            found.append(_Difference("ESP integrity", have, esp_auth, transform, "HashAlgo"))
    if wanted.groups and not offered.groups & wanted.groups:
        group = min(wanted.groups)
        have = _numbers(offered.groups, prefix="group ") if offered.groups else "no PFS"
        want = _numbers(wanted.groups, prefix="group ")
        if phase == "main":
            found.append(_Difference("DH group", have, want, f"group {group}", "DHGroup"))
        else:
            # the router insists on PFS: with none offered, changing its DHGroup is no way out
            knob = "DHGroup" if offered.groups else ""
            found.append(_Difference("PFS group", have, want, f"set pfs group{group}", knob))
    return found


def _words(values: Iterable[str]) -> str:
    return "/".join(sorted(values))


def _numbers(values: Iterable[int], *, prefix: str = "", suffix: str = "") -> str:
    return "/".join(f"{prefix}{v}" for v in sorted(values)) + suffix
