"""The lab router logs each negotiation as strongSwan's charon does (the article's log)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.ike import CloudPeer, negotiate
from fitelctl.lab.charon_log import SaNumbers, charon_log_lines
from fitelctl.lab.scenarios import (
    VPC_ROUTER_ADDRESS,
    DeviceCrypto,
    device_config,
    site_addresses,
)

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


def device(crypto: DeviceCrypto) -> DeviceTunnel:
    (tunnel,) = read_tunnels(ConfigTree.parse(device_config(TOKYO, crypto, "psk")))
    assert isinstance(tunnel, DeviceTunnel)
    return tunnel


def cloud(version: int = 2, **changes: Any) -> CloudPeer:
    peer = CloudPeer(
        router_version=version,
        router_up=True,
        global_address=VPC_ROUTER_ADDRESS,
        peer=TOKYO.public,
        remote_id=TOKYO.wan,
        psk="psk",
        encryption_algo="aes256",
        hash_algo="sha256",
        dh_group="modp2048",
    )
    return dataclasses.replace(peer, **changes)


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
