"""The referee's reading of real charon lines (copied from the interop bench's logs),
and its wait for a charon's log to be complete."""

from __future__ import annotations

from typing import cast

import pytest
from helpers import SteppedClock

from fitelctl.lab.strongswan import referee
from fitelctl.lab.strongswan.charon import Charon
from fitelctl.lab.strongswan.referee import classify

MAIN_MODE_REFUSED = [
    "13[CFG] <1> received proposals: IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048",
    "13[CFG] <1> configured proposals: IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536",
    "13[IKE] <1> no proposal found",
    "11[IKE] <tunnel1|1> received NO_PROPOSAL_CHOSEN error notify",
]
QUICK_MODE_REFUSED = [
    "14[CFG] <peer-1|1> received proposals: ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ",
    "14[IKE] <peer-1|1> no matching proposal found, sending NO_PROPOSAL_CHOSEN",
    "11[IKE] <tunnel1|1> received NO_PROPOSAL_CHOSEN error notify",
]
WRONG_PSK = [
    "12[ENC] <3> invalid ID_V1 payload length, decryption failed?",
    "12[ENC] <3> could not decrypt payloads",
]
NO_PEER_ENTRY = [
    "09[IKE] <21> no IKE config found for 198.19.0.1...198.19.0.2, sending NO_PROPOSAL_CHOSEN"
]
IKEV2 = [
    "11[ENC] <2> parsed IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]",
    *NO_PEER_ENTRY,
]
#: the router initiating, the F220's identity is not the RemoteID
IDENTITY_REFUSED_BY_INITIATOR = [
    "13[IKE] <peer-126.169.118.242-tunnel-vti|28> IDir '126.169.118.242' does not match to "
    "'172.30.128.253'"
]
AGGRESSIVE = ["14[IKE] <3> Aggressive Mode PSK disabled for security reasons"]
SILENCE = ["07[IKE] <tunnel1|4> giving up after 1 retransmits"]


@pytest.mark.parametrize(
    ("lines", "cause"),
    [
        (MAIN_MODE_REFUSED, "proposal_mismatch_main_mode"),
        (QUICK_MODE_REFUSED, "proposal_mismatch_quick_mode"),
        (WRONG_PSK, "psk_mismatch"),
        (NO_PEER_ENTRY, "id_mismatch"),
        (IKEV2, "proposal_mismatch_main_mode"),
        (IDENTITY_REFUSED_BY_INITIATOR, "id_mismatch"),
        (AGGRESSIVE, "proposal_mismatch_main_mode"),
        (SILENCE, "no_response"),
        (["13[IKE] <1> 198.19.0.2 is initiating a Main Mode IKE_SA"], None),
    ],
)
def test_the_decisive_line_names_the_failure(lines: list[str], cause: str | None) -> None:
    assert classify(lines) == cause


class GrowingLog:
    """A charon whose log gains a line at each of ``at`` (seconds from now on ``clock``)."""

    def __init__(self, clock: SteppedClock, *at: float) -> None:
        self.clock, self.started, self.at = clock, clock.now, at

    def log_lines(self) -> list[str]:
        elapsed = self.clock.now - self.started
        return [f"line {n}" for n, when in enumerate(self.at) if when <= elapsed]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    stepped = SteppedClock()
    monkeypatch.setattr(referee, "time", stepped)
    return stepped


def test_the_router_log_is_read_once_its_last_line_arrived(clock: SteppedClock) -> None:
    log = GrowingLog(clock, 0.0, 0.03, 0.07)  # the last line 70 ms late
    referee._settled(cast(Charon, log), quiet=0.05)
    assert len(log.log_lines()) == 3
    # checked every 20 ms: the last line is seen at 80 ms, and 50 ms of quiet after it
    # at the check at 140 ms
    assert clock.now - log.started == pytest.approx(0.14)


def test_a_log_that_never_goes_quiet_is_waited_for_only_so_long(clock: SteppedClock) -> None:
    log = GrowingLog(clock, *(n * 0.02 for n in range(100)))  # a line every 20 ms for 2 s
    referee._settled(cast(Charon, log), limit=0.15, quiet=0.05)
    assert 0.15 <= clock.now - log.started < 0.15 + 0.02 + 1e-9  # one check past the limit
