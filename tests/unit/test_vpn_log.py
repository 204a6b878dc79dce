"""The log classifier on the article's real log and on logs the lab generates for every outcome.

Each generated log comes from ``ike.negotiate`` and ``lab.charon_log``, so the
classifier is checked against the same model the lab runs; the article's log
checks it against the real router's wording.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import lab_cloud_peer as cloud
from helpers import lab_device_tunnel as device

from fitelctl.fitelnet.crypto_config import DeviceTunnel
from fitelctl.ike import CloudPeer, negotiate
from fitelctl.lab.charon_log import SaNumbers, charon_log_lines
from fitelctl.lab.scenarios import site_addresses
from fitelctl.redact import SECRETS
from fitelctl.vpn_log import Offer, diagnose_log, proposal_advice

TOKYO = site_addresses(0)
OTHER = site_addresses(1)
ARTICLE_LOG = (
    Path(__file__).resolve().parents[1] / "data" / "sakura" / "vpnlog_v2_reconnect_seed.log"
)
START = datetime(2020, 7, 18, 13, 21, 40)


def log_for(
    tunnel: DeviceTunnel, router: CloudPeer, *, sa: int = 1, public: str = TOKYO.public
) -> list[str]:
    """The router's log of one negotiation (IKE_SA number ``sa``, a minute per number)."""
    outcome = negotiate(tunnel, router, device_public_address=public)
    return charon_log_lines(
        outcome,
        cloud=router,
        device=tunnel,
        public_address=public,
        at=START + timedelta(minutes=sa),
        hostname="rt-112700568505",
        numbers=SaNumbers(ike_sa=sa, child_sa=sa, spi_in=f"c{sa:07x}", spi_out=f"f{sa:07x}"),
    )


def diagnose(*logs: list[str], peer: str | None = TOKYO.public) -> Any:
    return diagnose_log("\n".join(line for log in logs for line in log), peer=peer)


# --- the article's real log ---------------------------------------------------------------


def test_the_articles_log_is_ok() -> None:
    result = diagnose_log(ARTICLE_LOG.read_text())
    assert result.cause == "ok"
    assert "126.169.118.242" in result.detail and "AES_CBC_256" in result.detail
    assert "CHILD_SA peer-126.169.118.242-tunnel-vti{3} established" in result.evidence[-1]
    assert any("selected proposal: IKE:AES_CBC_256" in line for line in result.evidence)


def test_the_articles_log_has_nothing_from_another_office() -> None:
    result = diagnose_log(ARTICLE_LOG.read_text(), peer="198.51.100.9")
    assert result.cause == "no_response"
    assert "198.51.100.9" in result.detail and "it did from 126.169.118.242" in result.detail


# --- every outcome of the negotiation model, as the lab logs it ------------------------------


def test_a_successful_negotiation_is_ok() -> None:
    assert diagnose(log_for(device(), cloud())).cause == "ok"
    assert diagnose(log_for(device("v1"), cloud(version=1))).cause == "ok"


@pytest.mark.parametrize(
    ("changes", "parameter", "line"),
    [
        ({"ike_key_bits": (128,)}, "AES key length", "`encryption-keysize aes 256 256 256`"),
        ({"ike_encryption": "3des"}, "encryption", "`encryption aes`"),
        ({"ike_hash": "sha"}, "hash", "`hash sha-256`"),
        ({"dh_group": 5}, "DH group", "`group 14`"),
        ({"dh_group": 15}, "DH group", "`group 14`"),
    ],
)
def test_main_mode_mismatch_names_the_parameter_and_the_line(
    changes: dict[str, Any], parameter: str, line: str
) -> None:
    result = diagnose(log_for(device(**changes), cloud()))
    assert result.cause == "proposal_mismatch_main_mode"
    assert result.detail.startswith("main mode (IKE) proposal refused: ")
    assert f"{parameter}: the F220 offers" in result.detail
    assert f"set {line} (crypto isakmp policy)" in result.detail
    assert result.evidence[-1].endswith("no proposal found")
    assert any("configured proposals:" in e for e in result.evidence)


def test_the_v1_config_against_a_v2_router_names_hash_and_group() -> None:
    result = diagnose(log_for(device("v1"), cloud()))
    assert result.cause == "proposal_mismatch_main_mode"
    assert "hash: the F220 offers sha, the router wants sha-256" in result.detail
    assert "DH group: the F220 offers group 5, the router wants group 14" in result.detail
    assert "encryption" not in result.detail  # AES-256 is among the offered key lengths


@pytest.mark.parametrize(
    ("changes", "parameter", "line"),
    [
        ({"pfs_group": 5}, "PFS group: the F220 offers group 5", "`set pfs group14`"),
        ({"pfs_group": None}, "PFS group: the F220 offers no PFS", "`set pfs group14`"),
        (
            {"esp_auth": "esp-sha-hmac"},
            "ESP integrity: the F220 offers esp-sha-hmac, the router wants esp-sha256-hmac",
            "`set security-association transform esp-aes esp-sha256-hmac`",
        ),
        (
            {"esp_key_bits": (128,)},
            "AES key length",
            "`set security-association transform-keysize aes 256 256 256`",
        ),
    ],
)
def test_quick_mode_mismatch_names_the_parameter_and_the_line(
    changes: dict[str, Any], parameter: str, line: str
) -> None:
    result = diagnose(log_for(device(**changes), cloud()))
    assert result.cause == "proposal_mismatch_quick_mode"
    assert result.detail.startswith("quick mode (ESP) proposal refused: ")
    assert parameter in result.detail
    assert f"set {line} (crypto ipsec policy)" in result.detail
    assert "no matching proposal found" in result.evidence[-1]


def test_psk_mismatch() -> None:
    result = diagnose(log_for(device(), cloud(psk="another-key")))
    assert result.cause == "psk_mismatch"
    assert "pre-shared keys differ" in result.detail and "local-key" in result.detail
    assert "decryption failed" in result.evidence[-1]


def test_remote_id_mismatch_names_the_presented_identity() -> None:
    result = diagnose(log_for(device(), cloud(remote_id="10.9.9.9")))
    assert result.cause == "id_mismatch"
    assert "presents identity 172.30.128.254" in result.detail
    assert "RemoteID" in result.detail and "self-identity address" in result.detail


def test_unknown_peer_address() -> None:
    result = diagnose(log_for(device(), cloud(peer="198.51.100.7")))
    assert result.cause == "id_mismatch"
    assert "no site-to-site peer for 126.169.118.242" in result.detail
    assert "set its Peer to 126.169.118.242" in result.detail


def test_ikev2_is_a_main_mode_mismatch_that_says_ike_version_1() -> None:
    result = diagnose(log_for(device(ike_version=2), cloud()))
    assert result.cause == "proposal_mismatch_main_mode"
    assert "`ike-version 1`" in result.detail


@pytest.mark.parametrize("change", [{"router_up": False}, {"global_address": "192.0.2.1"}])
def test_no_response_on_an_empty_log(change: dict[str, Any]) -> None:
    result = diagnose(log_for(device(), cloud(**change)))
    assert result.cause == "no_response"
    assert "nothing received from 126.169.118.242" in result.detail
    assert diagnose_log("").cause == "no_response"


def test_no_response_when_only_another_office_negotiated() -> None:
    other = log_for(device(), cloud(peer=OTHER.public), public=OTHER.public)
    result = diagnose(other)
    assert result.cause == "no_response"
    assert f"it did from {OTHER.public}" in result.detail


@pytest.mark.parametrize(
    ("tunnel", "router"),
    [
        (device(), cloud()),
        (device("v1"), cloud()),
        (device("v1"), cloud(version=1)),
        (device(), cloud(version=1)),
        (device(ike_hash="sha"), cloud()),
        (device(pfs_group=None), cloud()),
        (device(esp_auth="esp-sha-hmac"), cloud(hash_algo="sha1")),
        (device(), cloud(encryption_algo="aes128")),
        (device(), cloud(psk="x")),
        (device(), cloud(remote_id="x")),
        (device(), cloud(peer="192.0.2.9")),
        (device(ike_version=2), cloud()),
    ],
)
def test_the_log_tells_what_the_model_decided(tunnel: DeviceTunnel, router: CloudPeer) -> None:
    outcome = negotiate(tunnel, router, device_public_address=TOKYO.public)
    assert diagnose(log_for(tunnel, router)).cause == outcome.cause


# --- logs with history ----------------------------------------------------------------------


def test_an_old_failure_then_a_success_is_ok() -> None:
    failed = log_for(device("v1"), cloud(), sa=1)
    fixed = log_for(device(), cloud(), sa=2)
    assert diagnose(failed, fixed).cause == "ok"


def test_a_success_then_a_failure_is_the_failure() -> None:
    worked = log_for(device(), cloud(), sa=1)
    broken = log_for(device(), cloud(psk="changed"), sa=2)
    assert diagnose(worked, broken).cause == "psk_mismatch"


def test_the_office_asked_about_decides_not_the_latest_peer() -> None:
    ours = log_for(device(), cloud(remote_id="10.9.9.9"), sa=1)
    theirs = log_for(device(), cloud(peer=OTHER.public), sa=2, public=OTHER.public)
    assert diagnose(ours, theirs).cause == "id_mismatch"
    assert diagnose(ours, theirs, peer=None).cause == "ok"
    assert diagnose(ours, theirs, peer=OTHER.public).cause == "ok"


def test_a_reused_ike_sa_number_starts_a_new_attempt() -> None:
    """charon restarted (a router reboot): numbering starts again at 1."""
    before = log_for(device(), cloud(), sa=1)
    after = log_for(device(), cloud(psk="changed"), sa=1)
    assert diagnose(before, after).cause == "psk_mismatch"
    assert diagnose(after, before).cause == "ok"


def test_a_newer_negotiation_that_never_finished_is_unknown() -> None:
    worked = log_for(device(), cloud(), sa=1)
    hanging = log_for(device(), cloud(), sa=2)
    cut = next(i for i, line in enumerate(hanging) if "QUICK_MODE request" in line)
    result = diagnose(worked, hanging[:cut])
    assert result.cause == "unknown"
    assert "quick mode did not" in result.detail


def test_traffic_without_an_outcome_is_unknown() -> None:
    dpd = [line for line in ARTICLE_LOG.read_text().splitlines() if " 13:21:55 " in line]
    assert diagnose(dpd).cause == "unknown"


def test_the_articles_log_after_a_failure_is_ok_and_before_one_is_not() -> None:
    article = ARTICLE_LOG.read_text().splitlines()
    failed = log_for(device("v1"), cloud(), sa=7)
    assert diagnose(failed, article).cause == "ok"
    assert diagnose(article, failed).cause == "proposal_mismatch_main_mode"


def test_evidence_is_redacted() -> None:
    SECRETS.add("172.30.128.254-as-secret")
    line = (
        "Jul 18 13:21:40 rt charon: 05[CFG] <2> looking for pre-shared key peer configs "
        "matching 27.133.132.134...126.169.118.242[172.30.128.254-as-secret]"
    )
    log = log_for(device(), cloud(remote_id="10.9.9.9"))
    at = next(i for i, x in enumerate(log) if "peer configs matching" in x)
    log[at] = line
    result = diagnose(log)
    assert "172.30.128.254-as-secret" not in "\n".join(result.evidence)


# --- advice from settings -------------------------------------------------------------------


def offer(hashes: set[str], groups: set[int], bits: set[int] | None = None) -> Offer:
    return Offer(
        frozenset({"aes"}), frozenset(bits or {128, 192, 256}), frozenset(hashes), frozenset(groups)
    )


def test_advice_names_the_router_setting_on_version_2_only() -> None:
    f220, router = offer({"sha"}, {5}), offer({"sha"}, {14}, {256})
    assert proposal_advice("main", f220, router) == (
        "DH group: the F220 offers group 5, the router wants group 14: set `group 14` "
        "(crypto isakmp policy), or instead change the router's DHGroup"
    )
    fixed = proposal_advice("main", f220, router, router_version=1)
    assert "DHGroup" not in fixed and "version-1 router accepts only" in fixed
    assert proposal_advice("main", router, router) == ""


def test_a_router_asking_for_group_5_is_version_1_and_cannot_change() -> None:
    result = diagnose(log_for(device(), cloud(version=1)))
    assert result.cause == "proposal_mismatch_main_mode"
    assert "version-1 router accepts only" in result.detail
    assert "instead change the router's" not in result.detail


def test_no_pfs_cannot_be_fixed_on_the_router() -> None:
    result = diagnose(log_for(device(pfs_group=None), cloud()))
    assert "set `set pfs group14`" in result.detail
    assert "DHGroup" not in result.detail
