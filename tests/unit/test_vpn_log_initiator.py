"""The classifier on the router's own initiator-side logs and on the half-open limit.

The log texts are written by hand in strongSwan 5.9's words, not produced by
the lab's generator, so that the classifier is checked against the source of
the wording rather than against our own model of it.  Where each line comes
from in strongSwan (src/libcharon/…):

* ``initiating Main Mode IKE_SA %s[%d] to %H``          sa/ikev1/tasks/main_mode.c (build_i)
* ``sending retransmit %u of %s message ID %u, seq %u``,
  ``giving up after %u retransmits``                   sa/ikev1/task_manager_v1.c
  (retransmit_packet)
* ``peer not responding, trying again (%d/%d)``,
  ``establishing IKE_SA failed, peer not responding``  sa/ike_sa.c (retransmit)
* ``IKE_SA %s[%d] established between %H[%Y]...%H[%Y]`` sa/ikev1/tasks/main_mode.c
* ``received %N error notify``                         sa/ikev1/tasks/informational.c
* ``no matching proposal found, sending %N``           sa/ikev1/tasks/quick_mode.c
* ``ignoring IKE_SA setup from %H, per-IP half-open IKE_SA limit of %d reached``
                                                       network/receiver.c (drop_ike_sa_init)
* ``invalid ID_V1 payload length, decryption failed?`` encoding/payloads/…, with
  ``could not decrypt payloads``                        encoding/message.c
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fitelctl.vpn_log import Diagnosis, diagnose_log

ROUTER, OFFICE, OTHER = "27.133.132.134", "126.169.118.242", "198.51.100.9"
CONN = f"peer-{OFFICE}-tunnel-vti"
ARTICLE_LOG = (
    Path(__file__).resolve().parents[1] / "data" / "sakura" / "vpnlog_v2_reconnect_seed.log"
)


def line(time: str, thread: int, group: str, context: str, text: str) -> str:
    return f"Jul 18 {time} rt-112700568505 charon: {thread:02d}[{group}] <{context}> {text}"


def sent(time: str, thread: int, context: str, to: str = OFFICE) -> str:
    return line(
        time, thread, "NET", context, f"sending packet: from {ROUTER}[500] to {to}[500] (236 bytes)"
    )


def initiation(sa: int, start: str = "14:00", *, peer: str = OFFICE) -> list[str]:
    """One keying try the office never answers: strongSwan's default schedule (4 s * 1.8**k)."""
    ctx = f"peer-{peer}-tunnel-vti|{sa}"
    times = ["00", "04", "11", "24", "47"]
    lines = [
        line(
            f"{start}:00",
            13,
            "IKE",
            ctx,
            f"initiating Main Mode IKE_SA peer-{peer}-tunnel-vti[{sa}] to {peer}",
        ),
        line(f"{start}:00", 13, "ENC", ctx, "generating ID_PROT request 0 [ SA V V V V V ]"),
        sent(f"{start}:00", 13, ctx, peer),
    ]
    for count, second in enumerate(times[1:], start=1):
        lines += [
            line(
                f"{start}:{second}",
                7,
                "IKE",
                ctx,
                f"sending retransmit {count} of request message ID 0, seq 1",
            ),
            sent(f"{start}:{second}", 7, ctx, peer),
        ]
    return lines


def gave_up(sa: int, start: str = "14:02", *, peer: str = OFFICE) -> list[str]:
    ctx = f"peer-{peer}-tunnel-vti|{sa}"
    return [
        line(f"{start}:45", 10, "IKE", ctx, "giving up after 5 retransmits"),
        line(f"{start}:45", 10, "IKE", ctx, "establishing IKE_SA failed, peer not responding"),
    ]


def main_mode_as_initiator(sa: int, time: str = "14:10:00") -> list[str]:
    """The router initiates, the office answers, main mode completes."""
    ctx_named = f"{CONN}|{sa}"
    received = f"received packet: from {OFFICE}[500] to {ROUTER}[500]"
    return [
        line(time, 13, "IKE", ctx_named, f"initiating Main Mode IKE_SA {CONN}[{sa}] to {OFFICE}"),
        line(time, 13, "ENC", ctx_named, "generating ID_PROT request 0 [ SA V V V V V ]"),
        sent(time, 13, ctx_named),
        line(time, 6, "NET", ctx_named, f"{received} (124 bytes)"),
        line(time, 6, "ENC", ctx_named, "parsed ID_PROT response 0 [ SA V V ]"),
        line(
            time,
            6,
            "CFG",
            ctx_named,
            "selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
        ),
        line(time, 6, "ENC", ctx_named, "generating ID_PROT request 0 [ KE No NAT-D NAT-D ]"),
        sent(time, 6, ctx_named),
        line(time, 5, "NET", ctx_named, f"{received} (324 bytes)"),
        line(time, 5, "ENC", ctx_named, "parsed ID_PROT response 0 [ KE No NAT-D NAT-D ]"),
        line(
            time, 5, "ENC", ctx_named, "generating ID_PROT request 0 [ ID HASH N(INITIAL_CONTACT) ]"
        ),
        sent(time, 5, ctx_named),
        line(time, 9, "NET", ctx_named, f"{received} (92 bytes)"),
        line(time, 9, "ENC", ctx_named, "parsed ID_PROT response 0 [ ID HASH ]"),
        line(
            time,
            9,
            "IKE",
            ctx_named,
            f"IKE_SA {CONN}[{sa}] established between "
            f"{ROUTER}[{ROUTER}]...{OFFICE}[172.30.128.254]",
        ),
        line(time, 9, "IKE", ctx_named, "scheduling reauthentication in 28632s"),
        line(time, 9, "IKE", ctx_named, "maximum IKE_SA lifetime 28721s"),
    ]


def quick_mode_refused_by_the_office(sa: int, time: str = "14:10:01") -> list[str]:
    """The router's quick mode is answered by an INFORMATIONAL with NO_PROPOSAL_CHOSEN."""
    ctx = f"{CONN}|{sa}"
    return [
        line(
            time, 9, "ENC", ctx, "generating QUICK_MODE request 2213452189 [ HASH SA No KE ID ID ]"
        ),
        sent(time, 9, ctx),
        line(
            time, 11, "NET", ctx, f"received packet: from {OFFICE}[500] to {ROUTER}[500] (76 bytes)"
        ),
        line(
            time, 11, "ENC", ctx, "parsed INFORMATIONAL_V1 request 3155010298 [ HASH N(NO_PROP) ]"
        ),
        line(time, 11, "IKE", ctx, "received NO_PROPOSAL_CHOSEN error notify"),
    ]


def psk_failure(sa: int, time: str) -> list[str]:
    """The office's main mode with a key the router does not have (responder side)."""
    ctx = str(sa)
    received = f"received packet: from {OFFICE}[500] to {ROUTER}[500]"
    return [
        line(time, 16, "NET", ctx, f"{received} (184 bytes)"),
        line(time, 16, "ENC", ctx, "parsed ID_PROT request 0 [ SA V ]"),
        line(time, 16, "IKE", ctx, f"{OFFICE} is initiating a Main Mode IKE_SA"),
        line(
            time,
            16,
            "CFG",
            ctx,
            "selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
        ),
        line(time, 16, "ENC", ctx, "generating ID_PROT response 0 [ SA V V ]"),
        line(time, 6, "NET", ctx, f"{received} (308 bytes)"),
        line(time, 6, "ENC", ctx, "parsed ID_PROT request 0 [ KE No ]"),
        line(time, 6, "ENC", ctx, "generating ID_PROT response 0 [ KE No ]"),
        line(time, 5, "NET", ctx, f"{received} (108 bytes)"),
        line(time, 5, "ENC", ctx, "invalid ID_V1 payload length, decryption failed?"),
        line(time, 5, "ENC", ctx, "could not decrypt payloads"),
        line(time, 5, "IKE", ctx, "message parsing failed"),
        line(time, 5, "IKE", ctx, "ID_PROT request with message ID 0 processing failed"),
    ]


def half_open_pile_up(first_sa: int, time: str) -> list[str]:
    """The office retries, each main mode left half-open after its first exchange."""
    lines: list[str] = []
    for sa in range(first_sa, first_sa + 4):
        ctx = str(sa)
        lines += [
            line(
                time,
                16,
                "NET",
                ctx,
                f"received packet: from {OFFICE}[500] to {ROUTER}[500] (184 bytes)",
            ),
            line(time, 16, "ENC", ctx, "parsed ID_PROT request 0 [ SA V ]"),
            line(time, 16, "IKE", ctx, f"{OFFICE} is initiating a Main Mode IKE_SA"),
            line(time, 16, "ENC", ctx, "generating ID_PROT response 0 [ SA V V ]"),
        ]
    return lines


def limit(time: str, peer: str = OFFICE) -> str:
    return (
        f"Jul 18 {time} rt-112700568505 charon: 04[NET] ignoring IKE_SA setup from {peer}, "
        "per-IP half-open IKE_SA limit of 5 reached"
    )


def diagnose(*parts: list[str] | str, peer: str | None = OFFICE) -> Diagnosis:
    lines = [p for part in parts for p in ([part] if isinstance(part, str) else part)]
    return diagnose_log("\n".join(lines), peer=peer)


ARTICLE = ARTICLE_LOG.read_text().splitlines()
SILENT = [*initiation(5), *gave_up(5)]


# --- the router's own main mode, never answered ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parts", "cause", "in_detail"),
    [
        ("one keying try, given up", [SILENT], "no_response", "gave up"),
        (
            "three keying tries (ipsec.conf's default), given up",
            [
                *initiation(5),
                line("14:02:45", 10, "IKE", f"{CONN}|5", "giving up after 5 retransmits"),
                line("14:02:45", 10, "IKE", f"{CONN}|5", "peer not responding, trying again (2/3)"),
                *initiation(5, "14:03"),
                *gave_up(5, "14:05"),
            ],
            "no_response",
            "gave up",
        ),
        (
            "still retransmitting",
            [initiation(5)[:7]],
            "no_response",
            "resent its first request 2 time(s)",
        ),
        ("just initiated", [initiation(5)[:3]], "unknown", "main mode did not complete"),
        (
            "the article's success, then silence",
            [ARTICLE, SILENT],
            "no_response",
            "does not answer",
        ),
        (
            "silence, then the office's own success",
            [SILENT, ARTICLE],
            "ok",
            "established the tunnel",
        ),
    ],
)
def test_initiator_side(name: str, parts: list[list[str]], cause: str, in_detail: str) -> None:
    result = diagnose(*parts)
    assert result.cause == cause, name
    assert in_detail in result.detail, result.detail
    assert not result.rate_limited


def test_giving_up_names_the_lines_it_rests_on() -> None:
    result = diagnose(ARTICLE, SILENT)
    assert result.evidence[0].endswith(f"initiating Main Mode IKE_SA {CONN}[5] to {OFFICE}")
    assert result.evidence[-2].endswith("giving up after 5 retransmits")
    assert result.evidence[-1].endswith("establishing IKE_SA failed, peer not responding")


def test_another_office_not_answering_is_not_ours() -> None:
    theirs = [*initiation(6, peer=OTHER), *gave_up(6, peer=OTHER)]
    assert diagnose(ARTICLE, theirs).cause == "ok"
    assert diagnose(ARTICLE, theirs, peer=OTHER).cause == "no_response"


# --- main mode established, quick mode refused: never ok ---------------------------------------


def test_main_mode_done_then_quick_mode_refused_by_the_office() -> None:
    result = diagnose(ARTICLE, main_mode_as_initiator(8), quick_mode_refused_by_the_office(8))
    assert result.cause == "proposal_mismatch_quick_mode"
    assert "refused by the F220 (NO_PROPOSAL_CHOSEN to the router's request after main mode" in (
        result.detail
    )
    assert any("established between" in e for e in result.evidence)
    assert result.evidence[-1].endswith("received NO_PROPOSAL_CHOSEN error notify")


def test_main_mode_refused_by_the_office_is_a_main_mode_mismatch() -> None:
    ctx = f"{CONN}|8"
    refused = [
        *main_mode_as_initiator(8)[:3],
        line(
            "14:10:00",
            6,
            "NET",
            ctx,
            f"received packet: from {OFFICE}[500] to {ROUTER}[500] (56 bytes)",
        ),
        line(
            "14:10:00", 6, "ENC", ctx, "parsed INFORMATIONAL_V1 request 1426329181 [ N(NO_PROP) ]"
        ),
        line("14:10:00", 6, "IKE", ctx, "received NO_PROPOSAL_CHOSEN error notify"),
    ]
    assert diagnose(ARTICLE, refused).cause == "proposal_mismatch_main_mode"


def test_main_mode_done_and_quick_mode_hanging_is_not_ok() -> None:
    result = diagnose(ARTICLE, main_mode_as_initiator(8))
    assert result.cause == "unknown"
    assert "main mode completed but quick mode did not" in result.detail


def test_a_rekey_refused_in_an_established_ike_sa_is_the_refusal() -> None:
    """Same IKE_SA as the article's success: its next quick mode is refused."""
    ctx = f"{CONN}|2"
    rekey = [
        line(
            "13:30:00",
            9,
            "NET",
            ctx,
            f"received packet: from {OFFICE}[500] to {ROUTER}[500] (508 bytes)",
        ),
        line(
            "13:30:00",
            9,
            "ENC",
            ctx,
            "parsed QUICK_MODE request 2719414337 [ HASH SA No KE ID ID ]",
        ),
        line("13:30:00", 9, "IKE", ctx, "no matching proposal found, sending NO_PROPOSAL_CHOSEN"),
    ]
    assert diagnose(ARTICLE, rekey).cause == "proposal_mismatch_quick_mode"


# --- the per-IP half-open limit ----------------------------------------------------------------


def test_the_half_open_limit_looks_back_to_the_first_failure() -> None:
    """Key mismatches pile up half-open; later tries stay unfinished; then the router drops."""
    result = diagnose(
        ARTICLE,
        psk_failure(11, "14:20:00"),
        half_open_pile_up(12, "14:20:05"),
        limit("14:20:10"),
        limit("14:20:15"),
    )
    assert (result.cause, result.rate_limited) == ("psk_mismatch", True)
    assert "pre-shared keys differ" in result.detail
    assert f"rate-limiting {OFFICE}" in result.detail and "limit of 5 reached" in result.detail
    assert "decryption failed" in result.evidence[-2]
    assert result.evidence[-1].endswith("per-IP half-open IKE_SA limit of 5 reached")
    assert result.to_json()["rate_limited"] is True


def test_the_first_failure_is_taken_after_the_last_success() -> None:
    refused = [
        line(
            "14:19:00",
            16,
            "NET",
            "10",
            f"received packet: from {OFFICE}[500] to {ROUTER}[500] (184 bytes)",
        ),
        line("14:19:00", 16, "ENC", "10", "parsed ID_PROT request 0 [ SA V ]"),
        line("14:19:00", 16, "IKE", "10", "no proposal found"),
    ]
    before_success = diagnose(refused, ARTICLE, psk_failure(11, "14:20:00"), limit("14:20:10"))
    assert before_success.cause == "psk_mismatch"
    after_failure = diagnose(ARTICLE, refused, psk_failure(11, "14:20:00"), limit("14:20:10"))
    assert after_failure.cause == "proposal_mismatch_main_mode"
    assert after_failure.rate_limited


def test_half_open_without_a_logged_failure_is_unknown_and_rate_limited() -> None:
    result = diagnose(ARTICLE, half_open_pile_up(12, "14:20:05"), limit("14:20:10"))
    assert (result.cause, result.rate_limited) == ("unknown", True)
    assert "return path" in result.detail


def test_a_limit_on_another_office_does_not_count() -> None:
    result = diagnose(ARTICLE, limit("14:20:10", peer=OTHER))
    assert (result.cause, result.rate_limited) == ("ok", False)


def test_a_negotiation_after_the_limit_means_it_was_lifted() -> None:
    result = diagnose(psk_failure(11, "14:20:00"), limit("14:20:10"), ARTICLE)
    assert (result.cause, result.rate_limited) == ("ok", False)


def test_only_the_limit_left_in_the_log() -> None:
    result = diagnose([limit("14:20:10")])
    assert (result.cause, result.rate_limited) == ("unknown", True)
    assert "no longer holds" in result.detail


def test_without_a_peer_the_limited_office_is_the_one_judged() -> None:
    theirs = [*initiation(6, peer=OTHER), *gave_up(6, peer=OTHER)]
    result = diagnose(psk_failure(11, "14:20:00"), theirs, limit("14:20:10"), peer=None)
    assert (result.cause, result.rate_limited) == ("psk_mismatch", True)
