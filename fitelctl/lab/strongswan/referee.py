"""What real charons make of two configurations: one negotiation, observed, classified.

A ``Bench`` is the VPC router's charon and the F220's charon in their own namespaces,
joined by a veth pair, or, with ``nat=True``, through a third namespace that masquerades
the office's traffic (nftables) as a home router would.  ``negotiate`` loads the two
sides' connections (from ``translate``), lets one side initiate, and reports the outcome:
up (with the proposals each phase selected, as charon names them) or the failure class.

The failure class is read from what the charons themselves log, one decisive line each
(``DECISIVE``, strongSwan 5.9's own messages); a negotiation where nobody logs one
before the deadline is ``no_response``.  The router's and the device's log lines of the
attempt are kept, so that the lab's diagnosis can be held to real logs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fitelctl.ike import NegotiationCause
from fitelctl.lab.charon_log import Retransmit
from fitelctl.lab.strongswan.charon import Charon, CharonError, Timing
from fitelctl.lab.strongswan.netns import Namespaces, NetnsError, ip
from fitelctl.lab.strongswan.translate import Connection, LabAddresses
from fitelctl.lab.strongswan.vici_calls import initiate, load, reset, sas, terminate_all

Initiator = Literal["device", "router"]

ROUTER_ADDRESS = "198.19.0.1"
OFFICE_PUBLIC_ADDRESS = "198.19.0.2"  # the device itself, or the NAT's outside
NAT_INSIDE_ADDRESS = "198.19.1.1"
DEVICE_BEHIND_NAT_ADDRESS = "198.19.1.2"

#: Fast retransmissions: failures that meet silence end in about a second.
BENCH_TIMING = Timing(Retransmit(timeout=0.5, base=1.4, tries=1))

#: strongSwan 5.9 messages that decide an IKEv1 negotiation, in the order they are
#: looked for in both charons' logs.  The responder refuses Main Mode's proposal with
#: "no proposal found" and Quick Mode's with "no matching proposal found" (the
#: initiator's "received NO_PROPOSAL_CHOSEN" says neither which phase nor why).  A Main
#: Mode from an address no connection has (the router has no peer entry for the office's
#: address) finds "no IKE config"; the F220 on ``ike-version 2`` meets the same message
#: (``IKEV2_REFUSED`` is looked for first) and aggressive mode is refused outright: both
#: refuse phase 1 as a whole.  A wrong PSK makes the responder's decryption of the
#: encrypted Main Mode messages fail; an identity no connection wants finds no peer
#: config (and the router, initiating, finds the F220's identity is not its RemoteID:
#: "IDir '…' does not match to '…'"); the initiator gives up on silence.
IKEV2_REFUSED = "parsed IKE_SA_INIT request"
DECISIVE: tuple[tuple[str, NegotiationCause], ...] = (
    ("no matching proposal found", "proposal_mismatch_quick_mode"),
    ("no proposal found", "proposal_mismatch_main_mode"),
    ("Aggressive Mode PSK disabled", "proposal_mismatch_main_mode"),
    ("no IKE config found", "id_mismatch"),
    ("decryption failed", "psk_mismatch"),
    ("integrity check failed", "psk_mismatch"),
    ("no peer config found", "id_mismatch"),
    ("but none allows pre-shared key authentication", "id_mismatch"),
    ("does not match to", "id_mismatch"),
    ("giving up after", "no_response"),
)


def classify(lines: list[str]) -> NegotiationCause | None:
    """The failure class the first decisive message of ``lines`` says, if any yet."""
    for text, cause in DECISIVE:
        if any(text in line for line in lines):
            if text == "no IKE config found" and any(IKEV2_REFUSED in line for line in lines):
                return "proposal_mismatch_main_mode"
            return cause
    return None


@dataclass(frozen=True)
class Observed:
    """One real negotiation: its class, what each phase selected, and both logs."""

    cause: NegotiationCause
    ike_proposal: str  # e.g. "AES_CBC/128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536", "" if none
    esp_proposal: str  # e.g. "AES_CBC/128/HMAC_SHA1_96/MODP_1536", "" if none
    router_log: tuple[str, ...]
    device_log: tuple[str, ...]

    @property
    def up(self) -> bool:
        return self.cause == "ok"


class Bench:
    """The router's and the device's charons, ready for one negotiation at a time."""

    def __init__(self, workdir: Path, *, nat: bool = False, timing: Timing = BENCH_TIMING) -> None:
        self.workdir, self.nat, self.timing = workdir, nat, timing
        self._namespaces = Namespaces()
        self._charons: tuple[Charon, Charon] | None = None  # (router, device)

    @property
    def router(self) -> Charon:
        assert self._charons is not None, "start() first"
        return self._charons[0]

    @property
    def device(self) -> Charon:
        assert self._charons is not None, "start() first"
        return self._charons[1]

    @property
    def device_address(self) -> str:
        """The device's own address in the lab (its outside interface)."""
        return DEVICE_BEHIND_NAT_ADDRESS if self.nat else OFFICE_PUBLIC_ADDRESS

    def addresses(self, *, router: str, office_public: str, device: str) -> LabAddresses:
        """Where the configs' router, office and device addresses live on this bench."""
        places = {router: ROUTER_ADDRESS, office_public: OFFICE_PUBLIC_ADDRESS}
        places.setdefault(device, self.device_address)
        return LabAddresses(places)

    def start(self) -> None:
        """Make the namespaces and links, start both charons (``CharonError``, ``NetnsError``)."""
        label = "n" if self.nat else "p"
        try:
            router_ns = self._namespaces.create(f"{label}r")
            device_ns = self._namespaces.create(f"{label}d")
            if self.nat:
                self._through_nat(router_ns, device_ns)
            else:
                self._namespaces.link(
                    router_ns,
                    f"{ROUTER_ADDRESS}/24",
                    device_ns,
                    f"{OFFICE_PUBLIC_ADDRESS}/24",
                    name="wan",
                )
            self._charons = (
                Charon(router_ns, self.workdir / f"{label}-router", timing=self.timing),
                Charon(device_ns, self.workdir / f"{label}-device", timing=self.timing),
            )
            for charon in self._charons:
                charon.start()
        except (CharonError, NetnsError):
            self.close()
            raise

    def close(self) -> None:
        for charon in self._charons or ():
            charon.stop()
        self._namespaces.close()

    def negotiate(
        self,
        device: Connection,
        routers: list[Connection],
        *,
        initiator: Initiator = "device",
        deadline: float = 6.0,
        attempts: int = 1,
    ) -> Observed:
        """Load both sides, let ``initiator`` start, and wait for the outcome.

        With ``attempts`` > 1, a failed attempt is retried at once, as an F220 set to
        ``always-up`` retries: the initiator drops its IKE_SA without a word and starts a
        new one, while the other side keeps what the failure left (a responder's
        half-open IKE_SAs pile up until charon's per-IP limit, ``block_threshold``,
        makes it ignore new ones).  Each attempt waits up to ``deadline``; the cause
        is the class of all attempts' lines together: the failure that set off the
        retries.
        """
        for charon in (self.router, self.device):
            reset(charon)
        router_log_start = len(self.router.log_lines())
        device_log_start = len(self.device.log_lines())
        load(self.router, routers, start=False)
        load(self.device, [device], start=False)
        if initiator == "device":
            starter, connection = self.device, device
        else:
            starter, connection = self.router, _router_entry_for(routers)
        router_start, device_start = router_log_start, device_log_start
        for attempt in range(attempts):
            if attempt:
                terminate_all(starter)
                router_start, device_start = (
                    len(c.log_lines()) for c in (self.router, self.device)
                )
            initiation = threading.Thread(target=initiate, args=(starter, connection), daemon=True)
            initiation.start()
            cause = self._wait(device.name, router_start, device_start, deadline)
            if cause == "ok":
                break
        if attempts > 1 and cause != "ok":
            lines = self.router.log_lines()[router_log_start:]
            cause = classify(lines + self.device.log_lines()[device_log_start:]) or cause
        ike, esp = self._selected(device.name) if cause == "ok" else ("", "")
        _settled(self.router)
        for charon in (self.router, self.device):
            reset(charon)
        initiation.join(deadline)
        return Observed(
            cause=cause,
            ike_proposal=ike,
            esp_proposal=esp,
            router_log=tuple(self.router.log_lines()[router_log_start:]),
            device_log=tuple(self.device.log_lines()[device_log_start:]),
        )

    def _wait(
        self, device_conn: str, router_start: int, device_start: int, deadline: float
    ) -> NegotiationCause:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self._child_installed(device_conn):
                return "ok"
            lines = self.router.log_lines()[router_start:] + self.device.log_lines()[device_start:]
            cause = classify(lines)
            if cause is not None:
                return cause
            time.sleep(0.01)
        return "no_response"

    def _child_installed(self, device_conn: str) -> bool:
        return any(
            child.get("state") == b"INSTALLED"
            for _, sa in sas(self.device, device_conn)
            for child in sa["child-sas"].values()
        )

    def _selected(self, device_conn: str) -> tuple[str, str]:
        for _, sa in sas(self.device, device_conn):
            for child in sa["child-sas"].values():
                if child.get("state") == b"INSTALLED":
                    return _proposal(sa, prf=True), _proposal(child, prf=False)
        return "", ""

    def _through_nat(self, router_ns: str, device_ns: str) -> None:
        nat_ns = self._namespaces.create("nn")
        self._namespaces.link(
            router_ns, f"{ROUTER_ADDRESS}/24", nat_ns, f"{OFFICE_PUBLIC_ADDRESS}/24", name="wan"
        )
        self._namespaces.link(
            nat_ns,
            f"{NAT_INSIDE_ADDRESS}/24",
            device_ns,
            f"{DEVICE_BEHIND_NAT_ADDRESS}/24",
            name="lan",
        )
        ip("route", "add", "default", "via", NAT_INSIDE_ADDRESS, namespace=device_ns)
        _run_in(nat_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _run_in(nat_ns, "nft", "add table ip nat")
        _run_in(nat_ns, "nft", "add chain ip nat post { type nat hook postrouting priority 100 ; }")
        _run_in(nat_ns, "nft", 'add rule ip nat post oifname "wan" masquerade')


#: seconds without a new line after which a charon's log is taken as complete
LOG_QUIET = 0.2
#: the longest wait for that quiet (a charon still retransmitting keeps writing)
LOG_SETTLE_LIMIT = 2.0


def _settled(charon: Charon, limit: float = LOG_SETTLE_LIMIT, quiet: float = LOG_QUIET) -> None:
    """Wait until ``charon``'s log has been quiet for ``quiet`` seconds, or ``limit``.

    The outcome is decided on whichever side shows it first, and the other side's
    last words may still be in flight: an IKEv1 initiator installs its CHILD_SA when it
    sends the last Quick Mode message, before the responder has logged it, and a
    responder's NO_PROPOSAL_CHOSEN reaches the initiator's log a moment after its own.
    Read at once, the router's log lacked that line in an interop run (a Main Mode
    proposal mismatch the router started), and its diagnosis found no cause."""
    ends = time.monotonic() + limit
    count, quiet_since = len(charon.log_lines()), time.monotonic()
    while time.monotonic() < ends and time.monotonic() - quiet_since < quiet:
        time.sleep(0.02)
        now = len(charon.log_lines())
        if now != count:
            count, quiet_since = now, time.monotonic()


def _run_in(namespace: str, *command: str) -> None:
    ip("netns", "exec", namespace, *command)


def _proposal(sa: dict[str, Any], *, prf: bool) -> str:
    """charon's list-sas fields as one name, e.g. ``AES_CBC/128/HMAC_SHA1_96/MODP_1536``."""
    words = [sa.get("encr-alg"), sa.get("encr-keysize"), sa.get("integ-alg")]
    words += [sa.get("prf-alg")] if prf else []
    words += [sa.get("dh-group")]
    return "/".join(w.decode() for w in words if w)


def _router_entry_for(routers: list[Connection]) -> Connection:
    if not routers:
        raise CharonError("the router has no peer entry to initiate")
    return routers[0]
