"""What the VPC router's strongSwan ``charon`` logs for one IKEv1 negotiation.

Pure: given the outcome ``fitelctl.ike.negotiate`` decided and both sides'
settings, return the syslog lines the router would write, as the lab's API
serves them in ``VPNLogs`` and the log download.  The wording is strongSwan 5.9's for an
IKEv1 main-mode responder, modelled on the source article's log
(``tests/data/sakura/vpnlog_v2_reconnect_seed.log``; docs/domain.md#strongswan-log-lines):
``selected proposal``, ``IKE_SA ... established``, ``CHILD_SA ... established with SPIs``;
on failure ``no proposal found`` (main mode), ``no matching proposal found, sending
NO_PROPOSAL_CHOSEN`` (quick mode), the decryption failure a wrong PSK causes, ``no peer
config found`` (identity) and ``no IKE config found`` (unknown peer address).  Packet sizes
and message IDs are plausible, not significant.

The router also initiates (``unanswered_initiation``): when an office never
answers, charon logs its own Main Mode initiation, resends the first request
on strongSwan's retransmission schedule and gives up, in the words of
strongSwan 5.9's ``sa/ikev1/tasks/main_mode.c`` (``initiating Main Mode
IKE_SA``), ``sa/ikev1/task_manager_v1.c`` (``sending retransmit N of request
message ID 0, seq 1``, ``giving up after N retransmits``) and ``sa/ike_sa.c``
(``peer not responding, trying again (N/M)``, ``establishing IKE_SA failed,
peer not responding``).  The timing is strongSwan's: the k-th send waits
``retransmit_timeout * retransmit_base ** k`` (defaults 4.0 s, 1.8, 5 tries),
so one keying try lasts about 165 s.  CHOSEN here (Sakura does not publish its
charon settings): those defaults, and ipsec.conf's default ``keyingtries=3``
(the router's log shows ``ipsec_starter``, i.e. ipsec.conf).

``half_open_refused`` and ``half_open_deleted`` are the responder-side lines
for offices that keep starting Main Modes that never complete (a wrong PSK
leaves the router's SA half-open until ``half_open_timeout``, 30 s): from the
fifth such SA from one address on, ``network/receiver.c`` drops new ones with
``ignoring IKE_SA setup from X, per-IP half-open IKE_SA limit of 5 reached``
(``block_threshold``), and ``processing/jobs/delete_ike_sa_job.c`` logs
``deleting half open IKE_SA with X after timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fitelctl.fitelnet.algorithms import (
    AES,
    CIPHER_BY_WORD,
    DH_GROUP_BY_NUMBER,
    HASH_BY_ESP,
    HASH_BY_WORD,
)
from fitelctl.fitelnet.crypto_config import DeviceTunnel
from fitelctl.ike import CloudPeer, Outcome, accepted_set


@dataclass(frozen=True)
class SaNumbers:
    """charon's counters and the SPIs of this negotiation (as the router sees them)."""

    ike_sa: int
    child_sa: int
    spi_in: str  # 8 hex digits
    spi_out: str


def router_connection_name(peer: str) -> str:
    """The VPC router's connection for the peer entry ``peer``, as its log names it
    (the article's ``<peer-126.169.118.242-tunnel-vti|1>``)."""
    return f"peer-{peer}-tunnel-vti"


@dataclass(frozen=True)
class Retransmit:
    """charon's ``retransmit_*`` settings, and the connection's ``keyingtries``."""

    timeout: float = 4.0
    base: float = 1.8
    tries: int = 5
    keyingtries: int = 3

    def waits(self) -> list[float]:
        """Seconds after each send (the first, then each retransmit) before the next step."""
        return [self.timeout * self.base**k for k in range(self.tries + 1)]

    def duration(self) -> float:
        """From the first initiation to ``establishing IKE_SA failed``."""
        return sum(self.waits()) * self.keyingtries


#: strongSwan's ``block_threshold`` and ``half_open_timeout`` defaults
HALF_OPEN_LIMIT = 5
HALF_OPEN_TIMEOUT = 30.0


def unanswered_initiation(
    *,
    router: str,
    peer: str,
    started: datetime,
    hostname: str,
    ike_sa: int,
    retransmit: Retransmit,
) -> list[tuple[datetime, str]]:
    """The router's Main Mode to ``peer`` that nobody answers, each line with its time."""
    lines: list[tuple[datetime, str]] = []
    conn = router_connection_name(peer)
    at = 0.0

    def add(thread: int, group: str, text: str) -> None:
        when = started + timedelta(seconds=at)
        lines.append((when, _line(when, hostname, thread, group, f"<{conn}|{ike_sa}>", text)))

    def send(thread: int) -> None:
        add(thread, "NET", f"sending packet: from {router}[500] to {peer}[500] (236 bytes)")

    for keyingtry in range(1, retransmit.keyingtries + 1):
        add(13, "IKE", f"initiating Main Mode IKE_SA {conn}[{ike_sa}] to {peer}")
        add(13, "ENC", "generating ID_PROT request 0 [ SA V V V V V ]")
        send(13)
        for count, wait in enumerate(retransmit.waits()[:-1], start=1):
            at += wait
            add(7, "IKE", f"sending retransmit {count} of request message ID 0, seq 1")
            send(7)
        at += retransmit.waits()[-1]
        add(10, "IKE", f"giving up after {retransmit.tries} retransmits")
        if keyingtry < retransmit.keyingtries:
            add(
                10,
                "IKE",
                f"peer not responding, trying again ({keyingtry + 1}/{retransmit.keyingtries})",
            )
    add(10, "IKE", "establishing IKE_SA failed, peer not responding")
    return lines


def half_open_refused(at: datetime, hostname: str, peer: str) -> str:
    """The receiver drops a new Main Mode from ``peer``: no IKE_SA, so no ``<N>`` context."""
    return (
        f"{_stamp(at)} {hostname} charon: 04[NET] ignoring IKE_SA setup from {peer}, "
        f"per-IP half-open IKE_SA limit of {HALF_OPEN_LIMIT} reached"
    )


def half_open_deleted(at: datetime, hostname: str, peer: str, ike_sa: int) -> str:
    return _line(
        at,
        hostname,
        12,
        "JOB",
        f"<{ike_sa}>",
        f"deleting half open IKE_SA with {peer} after timeout",
    )


def _stamp(at: datetime) -> str:
    return f"{at:%b} {at.day:2d} {at:%H:%M:%S}"


def _line(at: datetime, hostname: str, thread: int, group: str, context: str, text: str) -> str:
    return f"{_stamp(at)} {hostname} charon: {thread:02d}[{group}] {context} {text}"


def charon_log_lines(
    outcome: Outcome,
    *,
    cloud: CloudPeer,
    device: DeviceTunnel,
    public_address: str,
    at: datetime,
    hostname: str,
    numbers: SaNumbers,
) -> list[str]:
    """The router's log for one negotiation initiated by ``device`` from ``public_address``."""
    if outcome.cause in ("no_response", "router_down"):
        return []  # nothing reached a running router
    log = _Log(at, hostname, cloud.global_address, public_address, numbers.ike_sa)
    if device.ike_version != 1:
        log.ikev2_refused()
    elif cloud.peer != public_address:
        log.unknown_peer()
    elif outcome.cause == "proposal_mismatch_main_mode":
        log.main_mode_refused(_ike_offers(device), _ike_wanted(cloud))
    else:
        log.main_mode_keys(_ike_wanted(cloud), dpd=device.keepalive_interval is not None)
        if outcome.cause == "psk_mismatch":
            log.psk_mismatch()
        elif outcome.cause == "id_mismatch":
            log.no_peer_config(device.self_identity)
        else:
            log.established(device.self_identity, cloud.ike_lifetime)
            pfs = device.pfs_group is not None
            if outcome.cause == "proposal_mismatch_quick_mode":
                log.quick_mode_refused(_esp_offers(device), _esp_wanted(cloud), numbers, pfs=pfs)
            else:
                log.quick_mode_done(_esp_wanted(cloud), numbers, pfs=pfs)
    return log.lines


def _ike_offers(device: DeviceTunnel) -> str:
    hash_ = HASH_BY_WORD.get(device.ike_hash)
    integrity = hash_.charon_integrity if hash_ else device.ike_hash.upper()
    prf = hash_.charon_prf if hash_ else ""
    group = _group_name(device.dh_group, f"GROUP_{device.dh_group}")
    tail = "/".join(part for part in (integrity, prf, group) if part)
    return ", ".join(
        f"IKE:{cipher}/{tail}" for cipher in _ciphers(device.ike_encryption, device.ike_key_bits)
    )


def _esp_offers(device: DeviceTunnel) -> str:
    hash_ = HASH_BY_ESP.get(device.esp_auth)
    integrity = hash_.charon_integrity if hash_ else device.esp_auth.upper()
    group = f"/{_group_name(device.pfs_group, 'MODP_1024')}" if device.pfs_group else ""
    return ", ".join(
        f"ESP:{cipher}/{integrity}{group}/NO_EXT_SEQ"
        for cipher in _ciphers(device.esp_encryption, device.esp_key_bits)
    )


def _ciphers(encryption: str, key_bits: tuple[int, ...]) -> list[str]:
    """charon's names for an IKE or ESP cipher, one per key length offered."""
    cipher = CIPHER_BY_WORD.get(encryption.removeprefix("esp-"))
    if cipher is None:
        return [encryption.upper()]
    return [cipher.charon_name(bits) for bits in key_bits] if cipher.keyed else [cipher.charon]


def _group_name(group: int, unknown: str) -> str:
    known = DH_GROUP_BY_NUMBER.get(group)
    return known.charon if known else unknown


def _ike_wanted(cloud: CloudPeer) -> str:
    want = accepted_set(cloud)
    hash_ = HASH_BY_WORD[want.hash]
    cipher, group = AES.charon_name(want.aes_bits), DH_GROUP_BY_NUMBER[want.dh_group].charon
    return f"IKE:{cipher}/{hash_.charon_integrity}/{hash_.charon_prf}/{group}"


def _esp_wanted(cloud: CloudPeer) -> str:
    want = accepted_set(cloud)
    cipher, integrity = AES.charon_name(want.aes_bits), HASH_BY_WORD[want.hash].charon_integrity
    group = DH_GROUP_BY_NUMBER[want.pfs_group].charon
    return f"ESP:{cipher}/{integrity}/{group}/NO_EXT_SEQ"


class _Log:
    """Formats charon lines; one method per stage of the exchange."""

    def __init__(self, at: datetime, hostname: str, router: str, peer: str, ike_sa: int) -> None:
        self.lines: list[str] = []
        self._at = at
        self._hostname = hostname
        self._router, self._peer, self._ike_sa = router, peer, ike_sa
        self._context = f"<{ike_sa}>"
        self._message_id = 1_100_000_000 + ike_sa * 7919

    @property
    def conn(self) -> str:
        return router_connection_name(self._peer)

    def add(self, thread: int, group: str, text: str) -> None:
        self.lines.append(_line(self._at, self._hostname, thread, group, self._context, text))

    def received(self, thread: int, size: int) -> None:
        here, there = f"{self._router}[500]", f"{self._peer}[500]"
        self.add(thread, "NET", f"received packet: from {there} to {here} ({size} bytes)")

    def sent(self, thread: int, size: int) -> None:
        here, there = f"{self._router}[500]", f"{self._peer}[500]"
        self.add(thread, "NET", f"sending packet: from {here} to {there} ({size} bytes)")

    def notify(self, thread: int, payloads: str) -> None:
        self._message_id += 1
        self.add(
            thread, "ENC", f"generating INFORMATIONAL_V1 request {self._message_id} [ {payloads} ]"
        )
        self.sent(thread, 92 if "HASH" in payloads else 56)

    # -- failures before main mode starts ---------------------------------------
    def ikev2_refused(self) -> None:
        self.received(16, 464)
        self.add(16, "ENC", "parsed IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]")
        self.add(
            16,
            "IKE",
            f"no IKE config found for {self._router}...{self._peer}, sending NO_PROPOSAL_CHOSEN",
        )
        self.add(16, "ENC", "generating IKE_SA_INIT response 0 [ N(NO_PROP) ]")
        self.sent(16, 36)

    def unknown_peer(self) -> None:
        self.received(16, 184)
        self.add(16, "ENC", "parsed ID_PROT request 0 [ SA V ]")
        self.add(
            16,
            "IKE",
            f"no IKE config found for {self._router}...{self._peer}, sending NO_PROPOSAL_CHOSEN",
        )
        self.notify(16, "N(NO_PROP)")

    # -- main mode -----------------------------------------------------------------
    def _main_mode_start(self, *, dpd: bool) -> None:
        self.received(16, 184)
        self.add(16, "ENC", "parsed ID_PROT request 0 [ SA V ]")
        if dpd:
            self.add(16, "IKE", "received DPD vendor ID")
        self.add(16, "IKE", f"{self._peer} is initiating a Main Mode IKE_SA")

    def main_mode_refused(self, offered: str, configured: str) -> None:
        self._main_mode_start(dpd=True)
        self.add(16, "CFG", f"received proposals: {offered}")
        self.add(16, "CFG", f"configured proposals: {configured}")
        self.add(16, "IKE", "no proposal found")
        self.notify(16, "N(NO_PROP)")

    def main_mode_keys(self, selected: str, *, dpd: bool) -> None:
        self._main_mode_start(dpd=dpd)
        self.add(16, "CFG", f"selected proposal: {selected}")
        self.add(16, "ENC", "generating ID_PROT response 0 [ SA V V ]")
        self.sent(16, 124)
        self.received(6, 308)
        self.add(6, "ENC", "parsed ID_PROT request 0 [ KE No ]")
        self.add(6, "ENC", "generating ID_PROT response 0 [ KE No ]")
        self.sent(6, 324)
        self.received(5, 108)

    def psk_mismatch(self) -> None:
        self.add(5, "ENC", "invalid ID_V1 payload length, decryption failed?")
        self.add(5, "ENC", "could not decrypt payloads")
        self.add(5, "IKE", "message parsing failed")
        self.notify(5, "HASH N(PLD_MALFORMED)")
        self.add(5, "IKE", "ID_PROT request with message ID 0 processing failed")

    def _looking_for(self, identity: str) -> None:
        self.add(5, "ENC", "parsed ID_PROT request 0 [ ID HASH N(INITIAL_CONTACT) ]")
        self.add(
            5,
            "CFG",
            "looking for pre-shared key peer configs matching "
            f"{self._router}...{self._peer}[{identity}]",
        )

    def no_peer_config(self, identity: str) -> None:
        self._looking_for(identity)
        self.add(5, "IKE", "no peer config found")
        self.notify(5, "HASH N(AUTH_FAILED)")

    def established(self, identity: str, lifetime: int) -> None:
        self._looking_for(identity)
        self.add(5, "CFG", f'selected peer config "{self.conn}"')
        self._context = f"<{self.conn}|{self._ike_sa}>"
        self.add(
            5,
            "IKE",
            f"IKE_SA {self.conn}[{self._ike_sa}] established between "
            f"{self._router}[{self._router}]...{self._peer}[{identity}]",
        )
        self.add(5, "IKE", f"scheduling reauthentication in {max(1, lifetime - 168)}s")
        self.add(5, "IKE", f"maximum IKE_SA lifetime {max(1, lifetime - 79)}s")
        self.add(5, "ENC", "generating ID_PROT response 0 [ ID HASH ]")
        self.sent(5, 92)

    # -- quick mode ----------------------------------------------------------------
    def _quick_mode_start(self, quick_id: int, *, pfs: bool) -> str:
        payloads = "HASH SA No KE ID ID" if pfs else "HASH SA No ID ID"
        self.received(9, 508 if pfs else 252)
        self.add(9, "ENC", f"parsed QUICK_MODE request {quick_id} [ {payloads} ]")
        return payloads

    def quick_mode_refused(
        self, offered: str, configured: str, numbers: SaNumbers, *, pfs: bool
    ) -> None:
        self._quick_mode_start(_quick_id(numbers), pfs=pfs)
        self.add(9, "CFG", f"received proposals: {offered}")
        self.add(9, "CFG", f"configured proposals: {configured}")
        self.add(9, "IKE", "no matching proposal found, sending NO_PROPOSAL_CHOSEN")
        self.notify(9, "HASH N(NO_PROP)")

    def quick_mode_done(self, selected: str, numbers: SaNumbers, *, pfs: bool) -> None:
        quick_id = _quick_id(numbers)
        payloads = self._quick_mode_start(quick_id, pfs=pfs)
        self.add(9, "CFG", f"selected proposal: {selected}")
        self.add(9, "ENC", f"generating QUICK_MODE response {quick_id} [ {payloads} ]")
        self.sent(9, 460 if pfs else 204)
        self.received(11, 76)
        self.add(11, "ENC", f"parsed QUICK_MODE request {quick_id} [ HASH ]")
        self.add(
            11,
            "IKE",
            f"CHILD_SA {self.conn}{{{numbers.child_sa}}} established with SPIs "
            f"{numbers.spi_in}_i {numbers.spi_out}_o and TS 0.0.0.0/0 === 0.0.0.0/0",
        )


def _quick_id(numbers: SaNumbers) -> int:
    """A stable 31-bit quick-mode message ID for this negotiation."""
    return int(numbers.spi_in, 16) % 2_000_000_000 + 100_000_000
