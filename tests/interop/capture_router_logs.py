"""The VPC router's log of every way a negotiation fails, written by real charons.

Regenerate the fixtures (root, strongSwan 5.9 and nftables; about 10 s)::

    sudo .venv/bin/python tests/interop/capture_router_logs.py

Each case below is the article's F220 config (``tests/data/config_v1_sakura_tokyo.cfg``
with ``config_v2_changes_sakura_tokyo.cfg``, as typed on the device, plus the tunnel
binding) and the article's router settings (``tests/data/sakura/
settings_site_to_site_v2_shape.json``), with one thing changed.  A bench of real
charons (``fitelctl.lab.strongswan.referee``) negotiates them, the router's charon log
of the attempt is turned into the router's syslog form (``router_syslog``: host name,
``charon:``, the configs' addresses instead of the lab's) and written to
``tests/data/real_charon_logs/<case>.log``; ``cases.json`` says, per case, the cause the
referee saw, the router's role (``responder``: the F220 initiates, as it does with
``always-up``; ``initiator``: the router does), whether the office is behind NAT, what
differs, the F220 line that fixes it, and what the diagnosis must quote
(``detail_quotes``: the parameter and the line, or, where the router's log cannot show
which parameter, what it can).

The router's log is kept from the bench loading the connection to the referee's
verdict; the bench's own clean-up after it (``vici terminate``, keys unloaded) is cut,
as no router does that.  Through the NAT, the router's first packet reaches the F220
only through a mapping the F220's own traffic left in the office's NAT (nothing
forwards ports to it): so a case of the router initiating to an office behind NAT
first brings the tunnel up with the article's configs, the F220 initiating, as it was
before the change (``PRIMING``), and the router then initiates the changed one (a
reconnect, a rekey after a setting changed); only that attempt's log is kept.
``ike-version 2``, aggressive mode and a wrong ``set peer`` are cases of the F220
initiating only: with the router initiating, what the F220 would answer is not known
(charon, standing in for it, refuses with NO_PROPOSAL_CHOSEN, or for aggressive mode
AUTHENTICATION_FAILED after the identities, which the router's log cannot tell from a
proposal or key mismatch), and the half-open limit of fast retries is the
responder's, so the router initiating never meets it.

The pre-shared keys are test values, and no log may contain one.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from fitelctl.ike import NegotiationCause
from fitelctl.lab.device.editing import replay_config
from fitelctl.lab.strongswan import prerequisites
from fitelctl.lab.strongswan.referee import Bench, Initiator
from fitelctl.lab.strongswan.router_syslog import router_syslog
from fitelctl.lab.strongswan.translate import (
    UNREACHABLE,
    Connection,
    LabAddresses,
    device_connections,
    router_connections,
)
from fitelctl.vpn_log import diagnose_log

Role = Literal["responder", "initiator"]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
FIXTURES = DATA / "real_charon_logs"
REGENERATE = "sudo .venv/bin/python tests/interop/capture_router_logs.py"

ROUTER_GLOBAL = "27.133.132.134"
OFFICE_PUBLIC = "126.169.118.242"
OFFICE_BEHIND_NAT = "172.30.128.254"
ELSEWHERE = "203.0.113.77"  # a Peer or `set peer` that is not the other side
WRONG_REMOTE_ID = "172.30.128.253"

ARTICLE_PSK = "THIS-IS-SECRET-KEY"  # the article's placeholder, replaced by test values
PSK = "fake-router-logs-psk"
OTHER_PSK = "fake-router-logs-other-psk"
TUNNEL_BINDING = "interface Tunnel 1\n tunnel mode ipsec map sakuratokyo\nexit\n"

#: Retries until the router's charon ignores the office: strongSwan's per-IP half-open
#: IKE_SA limit (``charon.block_threshold``, 5 by default) lets five attempts stay
#: half-open; the sixth is ignored.
RETRIES_TO_THE_LIMIT = 6
#: the first line of the bench's clean-up in the router's log
BENCH_CLEANUP = ("[CFG] vici terminate ", "[CFG] unloaded shared key ")


@dataclass(frozen=True)
class Case:
    """One negotiation: what is changed, and what its router log must make the diagnosis say."""

    what: str
    cause: NegotiationCause
    role: Role = "responder"
    nat: bool = False
    parameter: str | None = None  # what differs, in the diagnosis' words
    f220_line: str | None = None  # the F220 line that fixes it (None: the fix is elsewhere)
    #: what the diagnosis must quote when the router's log cannot show parameter and line
    quotes: tuple[str, ...] | None = None
    f220_edits: str = ""  # config lines as typed on the F220, after the article's
    f220_without: tuple[str, ...] = ()  # lines taken out of the F220's config
    router_entry: Mapping[str, str] = field(default_factory=dict)  # the peer entry's changes
    attempts: int = 1
    rate_limited: bool = False
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.what}-{'nat' if self.nat else 'direct'}-{self.role}"

    @property
    def detail_quotes(self) -> tuple[str, ...]:
        if self.quotes is not None:
            return self.quotes
        return tuple(q for q in (self.parameter, self.f220_line) if q)

    def record(self) -> dict[str, Any]:
        """The case as ``cases.json`` holds it."""
        record: dict[str, Any] = {
            "cause": self.cause,
            "role": self.role,
            "nat": self.nat,
            "parameter": self.parameter,
            "f220_line": self.f220_line,
            "detail_quotes": list(self.detail_quotes),
            "rate_limited": self.rate_limited,
        }
        return record | ({"note": self.note} if self.note else {})


def _isakmp(line: str) -> str:
    return f"crypto isakmp policy sakuratokyo\n {line}\nexit\n"


def _ipsec(line: str) -> str:
    return f"crypto ipsec policy sakuratokyo\n {line}\nexit\n"


def _profile(line: str) -> str:
    return f"crypto isakmp profile sakuratokyo\n {line}\nexit\n"


MAIN: NegotiationCause = "proposal_mismatch_main_mode"
QUICK: NegotiationCause = "proposal_mismatch_quick_mode"
TRANSFORM = "set security-association transform esp-aes esp-sha256-hmac"

#: What breaks whichever side initiates (shown here with the F220 initiating).
EITHER_SIDE_INITIATING: tuple[Case, ...] = (
    Case("ok", "ok"),
    Case(
        "main_mode_encryption",
        MAIN,
        parameter="encryption",
        f220_line="encryption aes",
        f220_edits=_isakmp("encryption 3des"),
    ),
    Case(
        "main_mode_hash",
        MAIN,
        parameter="hash",
        f220_line="hash sha-256",
        f220_edits=_isakmp("hash sha"),
    ),
    Case(
        "main_mode_dh_group",
        MAIN,
        parameter="DH group",
        f220_line="group 14",
        f220_edits=_isakmp("group 5"),
    ),
    Case(
        "quick_mode_encryption",
        QUICK,
        parameter="encryption",
        f220_line=TRANSFORM,
        f220_edits=_ipsec("set security-association transform esp-3des esp-sha256-hmac"),
    ),
    Case(
        "quick_mode_integrity",
        QUICK,
        parameter="ESP integrity",
        f220_line=TRANSFORM,
        f220_edits=_ipsec("set security-association transform esp-aes esp-sha-hmac"),
    ),
    Case(
        "pfs_group",
        QUICK,
        parameter="PFS group",
        f220_line="set pfs group14",
        f220_edits=_ipsec("set pfs group5"),
    ),
    Case(
        "pfs_off",
        QUICK,
        parameter="PFS group",
        f220_line="set pfs group14",
        f220_without=(" set pfs group14",),
    ),
    Case(
        "psk",
        "psk_mismatch",
        parameter="pre-shared key",
        f220_line="local-key",
        router_entry={"PreSharedSecret": OTHER_PSK},
    ),
    Case(
        "remote_id",
        "id_mismatch",
        parameter="identity",
        # the router's log shows the identity the F220 presents, not the RemoteID it wants
        f220_line="self-identity address",
        router_entry={"RemoteID": WRONG_REMOTE_ID},
    ),
    Case(
        "no_peer_entry",
        "id_mismatch",
        parameter="Peer",  # the router's setting: no F220 line to change
        router_entry={"Peer": ELSEWHERE},
    ),
)

#: What only the F220 initiating shows.
F220_INITIATING: tuple[Case, ...] = (
    Case(
        "ike_version_2",
        MAIN,
        parameter="ike-version",
        f220_line="ike-version 1",
        f220_edits=_profile("ike-version 2"),
    ),
    Case(
        "aggressive_mode",
        MAIN,
        parameter="aggressive mode",
        f220_line="initiate-mode main",
        f220_edits=_isakmp("initiate-mode aggressive"),
    ),
    Case(
        "wrong_set_peer",
        "no_response",
        parameter="set peer",
        # nothing reaches the router: its log cannot say which address to set
        f220_line="set peer",
        f220_edits=_profile(f"set peer {ELSEWHERE}"),
    ),
    Case(
        "fast_retries_wrong_psk",
        "psk_mismatch",
        parameter="pre-shared key",
        f220_line="local-key",
        quotes=("pre-shared key", "local-key", "half-open IKE_SA limit"),
        router_entry={"PreSharedSecret": OTHER_PSK},
        attempts=RETRIES_TO_THE_LIMIT,
        rate_limited=True,
    ),
)


def _router_initiating(case: Case) -> Case:
    """The same change with the router initiating, and what its log can show of it."""
    changes: dict[str, Any] = {"role": "initiator"}
    refused = "the router initiated: its log shows the F220's refusal, not which parameter"
    if case.cause == MAIN:
        changes |= {"quotes": ("crypto isakmp policy",), "note": refused}
    elif case.cause == QUICK and case.f220_line:
        # main mode's selected proposal shows the router's one suite, hence the lines to set
        changes |= {"quotes": ("crypto ipsec policy", case.f220_line), "note": refused}
    elif case.what == "remote_id":  # its log names both identities
        changes["f220_line"] = f"self-identity address {WRONG_REMOTE_ID}"
    elif case.what == "no_peer_entry":  # it initiates to its Peer, which is not the office
        changes["cause"] = "no_response"
    return replace(case, **changes)


ROUTER_INITIATING = tuple(_router_initiating(case) for case in EITHER_SIDE_INITIATING)
CASES: tuple[Case, ...] = (
    *EITHER_SIDE_INITIATING,
    *F220_INITIATING,
    *ROUTER_INITIATING,
    *(replace(case, nat=True) for case in (*EITHER_SIDE_INITIATING, *F220_INITIATING)),
    *(replace(case, nat=True) for case in ROUTER_INITIATING),
)
#: the tunnel as it was before the change, brought up by the F220 through the NAT
PRIMING = Case("ok", "ok", nat=True)


# --- configs ------------------------------------------------------------------------------


def f220_config(case: Case) -> str:
    """The article's F220 config with the case's change (directly on the Internet: its
    addresses are the office's public one)."""
    article = "".join(
        (DATA / name).read_text()
        for name in ("config_v1_sakura_tokyo.cfg", "config_v2_changes_sakura_tokyo.cfg")
    )
    text = replay_config(article + case.f220_edits + TUNNEL_BINDING).render()
    text = text.replace(ARTICLE_PSK, PSK)
    if not case.nat:
        text = text.replace(OFFICE_BEHIND_NAT, OFFICE_PUBLIC)
    for line in case.f220_without:
        if f"\n{line}\n" not in text:
            raise ValueError(f"{case.what}: {line!r} is not in the article's F220 config")
        text = text.replace(f"\n{line}\n", "\n", 1)
    return text


def router_settings(case: Case) -> dict[str, Any]:
    """The article's router settings, the peer entry as the case changes it."""
    vpn = json.loads((DATA / "sakura" / "settings_site_to_site_v2_shape.json").read_text())
    entry = vpn["SiteToSiteIPsecVPN"]["Config"][0]
    entry |= {
        "PreSharedSecret": PSK,
        "RemoteID": OFFICE_BEHIND_NAT if case.nat else OFFICE_PUBLIC,
        **case.router_entry,
    }
    return {"Router": vpn}


# --- capture ------------------------------------------------------------------------------


class CaptureError(Exception):
    """A capture that must not become a fixture (see ``problems``)."""


@dataclass(frozen=True)
class Captured:
    case: Case
    cause: NegotiationCause  # what the referee saw
    log: tuple[str, ...]  # the router's, in syslog form
    seconds: float


def capture(benches: Mapping[bool, Bench], cases: Iterable[Case] = CASES) -> list[Captured]:
    """Run each case on the bench for its NAT setting (``benches[nat]``, started)."""
    return [_capture_one(benches[case.nat], case) for case in cases]


def _capture_one(bench: Bench, case: Case) -> Captured:
    lab = _lab_addresses(bench, case)
    initiator: Initiator = "device" if case.role == "responder" else "router"
    if case.nat and initiator == "router":
        primed = bench.negotiate(*_connections(PRIMING, lab), initiator="device")
        if primed.cause != "ok":
            raise CaptureError(f"{case.name}: the tunnel before the change: {primed.cause}")
    started = time.monotonic()
    device, routers = _connections(case, lab)
    observed = bench.negotiate(device, routers, initiator=initiator, attempts=case.attempts)
    seconds = time.monotonic() - started
    config_address = {place: address for address, place in lab.places.items()}
    config_address[UNREACHABLE] = ELSEWHERE
    log = router_syslog(_before_cleanup(observed.router_log), config_address)
    return Captured(case, observed.cause, tuple(log), seconds)


def _lab_addresses(bench: Bench, case: Case) -> LabAddresses:
    device_address = OFFICE_BEHIND_NAT if case.nat else OFFICE_PUBLIC
    return bench.addresses(router=ROUTER_GLOBAL, office_public=OFFICE_PUBLIC, device=device_address)


def _connections(case: Case, lab: LabAddresses) -> tuple[Connection, list[Connection]]:
    """(the F220's connection, the router's) for ``case``."""
    own = OFFICE_BEHIND_NAT if case.nat else OFFICE_PUBLIC
    (device,) = device_connections(f220_config(case), lab, own_address=own)
    routers = router_connections(
        router_settings(case), version=2, global_address=ROUTER_GLOBAL, lab=lab
    )
    return device, routers


def _before_cleanup(lines: Iterable[str]) -> list[str]:
    kept = []
    for line in lines:
        if any(marker in line for marker in BENCH_CLEANUP):
            break
        kept.append(line)
    return kept


def problems(captured: Captured) -> list[str]:
    """What is wrong with a capture itself: a cause the case did not mean, a key in the log."""
    found = []
    if captured.cause != captured.case.cause:
        found.append(f"the referee saw {captured.cause}, the case means {captured.case.cause}")
    text = "\n".join(captured.log)
    found += [f"the log holds a pre-shared key ({psk})" for psk in (PSK, OTHER_PSK) if psk in text]
    return found


def verdict_mismatches(record: Mapping[str, Any], log_text: str, peer: str) -> list[str]:
    """Where ``diagnose_log`` disagrees with a case record of ``cases.json``."""
    verdict = diagnose_log(log_text, peer=peer)
    found = []
    if verdict.cause != record["cause"]:
        found.append(f"cause {verdict.cause}, expected {record['cause']}")
    if verdict.rate_limited != record["rate_limited"]:
        found.append(f"rate_limited {verdict.rate_limited}, expected {record['rate_limited']}")
    found += [f"no {q!r} in the detail" for q in record["detail_quotes"] if q not in verdict.detail]
    return [f"{f} (detail: {verdict.detail})" for f in found]


def write(captures: Iterable[Captured], folder: Path) -> None:
    """``<case>.log`` per capture and ``cases.json``, replacing the folder's old ones;
    nothing is written when a capture has ``problems``."""
    captures = list(captures)
    wrong = [f"{c.case.name}: {'; '.join(problems(c))}" for c in captures if problems(c)]
    if wrong:
        raise CaptureError("\n".join(wrong))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.log"):
        old.unlink()
    for captured in captures:
        (folder / f"{captured.case.name}.log").write_text("\n".join(captured.log) + "\n")
    records = {captured.case.name: captured.case.record() for captured in captures}
    document = {"regenerate": REGENERATE, "peer": OFFICE_PUBLIC, "cases": records}
    (folder / "cases.json").write_text(json.dumps(document, indent=2) + "\n")


def main() -> None:
    missing = prerequisites.missing()
    if missing:
        raise SystemExit("real strongSwan is not usable here:\n" + "\n".join(missing))
    with tempfile.TemporaryDirectory(prefix="router-logs-") as workdir:
        benches = {nat: Bench(Path(workdir), nat=nat) for nat in (False, True)}
        try:
            for bench in benches.values():
                bench.start()
            captures = capture(benches)
        finally:
            for bench in benches.values():
                bench.close()
    try:
        write(captures, FIXTURES)
    except CaptureError as error:
        raise SystemExit(f"nothing written:\n{error}") from None
    for captured in captures:
        text = "\n".join(captured.log)
        wrong = verdict_mismatches(captured.case.record(), text, OFFICE_PUBLIC)
        verdict = "ok" if not wrong else "; ".join(wrong)
        print(
            f"{captured.seconds:5.2f}s {captured.case.name}: {captured.cause}; diagnosis: {verdict}"
        )
    print(f"wrote {len(captures)} logs and cases.json to {FIXTURES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
