"""The lab router logs each negotiation as strongSwan's charon does (the article's log)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import lab_cloud_peer as cloud
from helpers import lab_device_tunnel as device

from fitelctl.fitelnet.crypto_config import DeviceTunnel
from fitelctl.ike import CloudPeer, negotiate
from fitelctl.lab.charon_log import (
    Retransmit,
    SaNumbers,
    charon_log_lines,
    half_open_deleted,
    half_open_refused,
    unanswered_initiation,
)
from fitelctl.lab.scenarios import (
    VPC_ROUTER_ADDRESS,
    site_addresses,
)
from fitelctl.vpn_log import diagnose_log

TOKYO = site_addresses(0)
ARTICLE_LOG = (
    Path(__file__).resolve().parents[1] / "data" / "sakura" / "vpnlog_v2_reconnect_seed.log"
)
#: the article's reconnect: IKE_SA 2, CHILD_SA 3, these SPIs, at this time
ARTICLE_NUMBERS = SaNumbers(ike_sa=2, child_sa=3, spi_in="ccbf4f48", spi_out="f188d39c")
ARTICLE_TIME = datetime(2020, 7, 18, 13, 21, 40)
#: lines about the SA being replaced, which a first negotiation does not have
REPLACEMENT_LINES = (
    "duplicate IKE_SA",
    "error uninstalling route",
    "INFORMATIONAL_V1 request 785607369",
    "DELETE for ESP",
    "CHILD_SA not found",
    "[ HASH D ]",
    "charon: 07[",  # the thread that handled the old SA's DELETE
)


def log_for(tunnel: DeviceTunnel, router: CloudPeer, at: datetime = ARTICLE_TIME) -> list[str]:
    outcome = negotiate(tunnel, router, device_public_address=TOKYO.public)
    return charon_log_lines(
        outcome,
        cloud=router,
        device=tunnel,
        public_address=TOKYO.public,
        at=at,
        hostname="rt-112700568505",
        numbers=ARTICLE_NUMBERS,
    )


def quick_mode_ids_hidden(line: str) -> str:
    return re.sub(r"QUICK_MODE (request|response) \d+", r"QUICK_MODE \1 N", line)


def test_a_v2_negotiation_reads_like_the_articles_log() -> None:
    article = [
        line
        for line in ARTICLE_LOG.read_text().splitlines()
        if " 13:21:40 " in line and not any(mark in line for mark in REPLACEMENT_LINES)
    ]
    ours = log_for(device("v2"), cloud())
    assert [quick_mode_ids_hidden(x) for x in ours] == [quick_mode_ids_hidden(x) for x in article]


def test_a_v1_negotiation_selects_the_observed_set() -> None:
    lines = "\n".join(log_for(device("v1"), cloud(version=1)))
    assert "selected proposal: IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536" in lines
    assert "selected proposal: ESP:AES_CBC_128/HMAC_SHA1_96/MODP_1536/NO_EXT_SEQ" in lines
    assert "CHILD_SA peer-126.169.118.242-tunnel-vti{3} established with SPIs" in lines


def test_a_main_mode_mismatch_says_no_proposal_found() -> None:
    lines = log_for(device("v1"), cloud())
    text = "\n".join(lines)
    assert "received proposals: IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536" in text
    assert (
        "configured proposals: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
        in text
    )
    assert lines[-3].endswith("[IKE] <2> no proposal found")
    assert "[ N(NO_PROP) ]" in lines[-2] and "established" not in text


def test_a_pfs_mismatch_fails_in_quick_mode() -> None:
    tunnel = dataclasses.replace(device("v2"), pfs_group=5)
    text = "\n".join(log_for(tunnel, cloud()))
    assert "IKE_SA peer-126.169.118.242-tunnel-vti[2] established" in text
    assert "received proposals: ESP:AES_CBC_128/HMAC_SHA2_256_128/MODP_1536/NO_EXT_SEQ, " in text
    assert "no matching proposal found, sending NO_PROPOSAL_CHOSEN" in text
    assert "CHILD_SA" not in text


@pytest.mark.parametrize(("esp", "logged"), [("esp-3des", "3DES_CBC"), ("esp-null", "NULL")])
def test_non_aes_esp_offers_carry_strongswans_cipher_names(esp: str, logged: str) -> None:
    tunnel = dataclasses.replace(device("v2"), esp_encryption=esp)
    text = "\n".join(log_for(tunnel, cloud()))
    assert f"received proposals: ESP:{logged}/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ" in text
    assert "no matching proposal found, sending NO_PROPOSAL_CHOSEN" in text


def test_a_wrong_psk_breaks_decryption_of_the_third_message() -> None:
    text = "\n".join(log_for(device("v2"), cloud(psk="other")))
    assert "invalid ID_V1 payload length, decryption failed?" in text
    assert "ID_PROT request with message ID 0 processing failed" in text
    assert "established" not in text and "psk" not in text.lower()


def test_a_wrong_identity_finds_no_peer_config() -> None:
    text = "\n".join(log_for(device("v2"), cloud(remote_id="10.9.9.9")))
    assert "peer configs matching 27.133.132.134...126.169.118.242[172.30.128.254]" in text
    assert "no peer config found" in text and "N(AUTH_FAILED)" in text


def test_an_unknown_peer_address_has_no_ike_config() -> None:
    text = "\n".join(log_for(device("v2"), cloud(peer="198.51.100.7")))
    assert (
        "no IKE config found for 27.133.132.134...126.169.118.242, sending NO_PROPOSAL_CHOSEN"
        in text
    )


def test_ikev2_from_the_device_is_refused() -> None:
    tunnel = dataclasses.replace(device("v2"), ike_version=2)
    text = "\n".join(log_for(tunnel, cloud()))
    assert "parsed IKE_SA_INIT request 0" in text and "N(NO_PROP)" in text


@pytest.mark.parametrize("change", [{"router_up": False}, {"global_address": "192.0.2.1"}])
def test_nothing_is_logged_when_nothing_reached_a_running_router(change: dict[str, Any]) -> None:
    assert log_for(device("v2"), cloud(**change)) == []


def test_syslog_pads_single_digit_days() -> None:
    (first, *_) = log_for(device("v2"), cloud(), at=datetime(2020, 7, 8, 9, 5, 1))
    assert first.startswith("Jul  8 09:05:01 rt-112700568505 charon: 16[NET] <2> ")


# --- the router's own main mode, never answered -------------------------------------------------


STRONGSWAN_DEFAULTS = Retransmit()


def initiation(retransmit: Retransmit = STRONGSWAN_DEFAULTS) -> list[tuple[datetime, str]]:
    return unanswered_initiation(
        router=VPC_ROUTER_ADDRESS,
        peer=TOKYO.public,
        started=ARTICLE_TIME,
        hostname="rt-112700568505",
        ike_sa=4,
        retransmit=retransmit,
    )


def seconds_after_start(lines: list[tuple[datetime, str]], fragment: str) -> list[float]:
    return [(at - ARTICLE_TIME).total_seconds() for at, text in lines if fragment in text]


def test_the_routers_retransmits_follow_strongswans_default_schedule() -> None:
    """5.9 defaults: retransmit_timeout 4 s, retransmit_base 1.8, retransmit_tries 5."""
    one_try = initiation(Retransmit(keyingtries=1))
    sends = seconds_after_start(one_try, "sending retransmit")
    assert sends == pytest.approx([4.0, 11.2, 24.16, 47.488, 89.4784])
    assert seconds_after_start(one_try, "giving up after 5 retransmits") == pytest.approx(
        [165.06112]
    )
    texts = [text for _, text in one_try]
    assert texts[0] == (
        "Jul 18 13:21:40 rt-112700568505 charon: 13[IKE] <peer-126.169.118.242-tunnel-vti|4> "
        "initiating Main Mode IKE_SA peer-126.169.118.242-tunnel-vti[4] to 126.169.118.242"
    )
    assert texts[3].endswith(
        "07[IKE] <peer-126.169.118.242-tunnel-vti|4> sending retransmit 1 "
        "of request message ID 0, seq 1"
    )
    assert texts[3].startswith("Jul 18 13:21:44 ")
    assert texts[-1].startswith("Jul 18 13:24:25 ")
    assert texts[-1].endswith("establishing IKE_SA failed, peer not responding")
    assert all(
        "sending packet: from 27.133.132.134[500] to 126.169.118.242[500]" in t
        for t in texts[2::2][:6]
    )


def test_three_keying_tries_by_default_then_failure() -> None:
    lines = initiation()
    texts = [text for _, text in lines]
    assert sum("initiating Main Mode" in t for t in texts) == 3
    assert [t.split("|4> ", 1)[1] for t in texts if "trying again" in t] == [
        "peer not responding, trying again (2/3)",
        "peer not responding, trying again (3/3)",
    ]
    assert seconds_after_start(lines, "establishing IKE_SA failed") == pytest.approx(
        [3 * 165.06112]
    )
    assert [at for at, _ in lines] == sorted(at for at, _ in lines)


def test_the_classifier_reads_the_generated_initiation_as_no_response() -> None:
    text = "\n".join(line for _, line in initiation())
    result = diagnose_log(text, peer=TOKYO.public)
    assert result.cause == "no_response" and "gave up" in result.detail


def test_half_open_lines() -> None:
    at = datetime(2020, 7, 18, 13, 22, 0)
    assert half_open_refused(at, "rt-1", TOKYO.public) == (
        "Jul 18 13:22:00 rt-1 charon: 04[NET] ignoring IKE_SA setup from 126.169.118.242, "
        "per-IP half-open IKE_SA limit of 5 reached"
    )
    assert half_open_deleted(at, "rt-1", TOKYO.public, 7) == (
        "Jul 18 13:22:00 rt-1 charon: 12[JOB] <7> deleting half open IKE_SA with "
        "126.169.118.242 after timeout"
    )
