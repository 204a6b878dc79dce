"""``diagnose --from-log`` on any log: always a documented cause, a detail, no secret.

The logs are the article's real VPC router log, logs the lab writes for each
negotiation outcome, and charon-shaped lines built from the messages the
classifier reads, all cut, shuffled, repeated and mixed with garbage. A
registered PSK is planted where charon prints identities and connection names:
it must never come back in the detail or the evidence.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fuzz_helpers import GARBAGE, fuzz, mutated_lines
from helpers import ROOT, one_line_error, run_in_process
from hypothesis import given
from hypothesis import strategies as st

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.ike import CloudPeer, negotiate
from fitelctl.lab.charon_log import SaNumbers, charon_log_lines
from fitelctl.lab.scenarios import VPC_ROUTER_ADDRESS, device_config, site_addresses
from fitelctl.redact import SECRETS
from fitelctl.vpn_log import Diagnosis, diagnose_log

#: `diagnose --from-log`'s causes, as docs/output-contract.md#diagnose lists them
CONTRACT_CAUSES = frozenset(
    {
        "ok",
        "proposal_mismatch_main_mode",
        "proposal_mismatch_quick_mode",
        "psk_mismatch",
        "id_mismatch",
        "no_response",
        "router_down",
        "unknown",
    }
)
ARTICLE_LOG = ROOT / "tests" / "data" / "sakura" / "vpnlog_v2_reconnect_seed.log"
#: a pre-shared key this process resolved: registered, so no output may carry it
PSK = SECRETS.add("fuzz-PSK-Zq8x!2kw")
TOKYO = site_addresses(0)


def _lab_log(crypto: str, sa: int, **cloud_changes: Any) -> list[str]:
    """The router's log of one negotiation, as the lab writes it."""
    (tunnel,) = read_tunnels(ConfigTree.parse(device_config(TOKYO, crypto, PSK)))  # type: ignore[arg-type]
    assert isinstance(tunnel, DeviceTunnel)
    router = CloudPeer(
        router_version=2,
        router_up=True,
        global_address=VPC_ROUTER_ADDRESS,
        peer=TOKYO.public,
        remote_id=TOKYO.wan,
        psk=PSK,
        encryption_algo="aes256",
        hash_algo="sha256",
        dh_group="modp2048",
    )
    router = dataclasses.replace(router, **cloud_changes)
    outcome = negotiate(tunnel, router, device_public_address=TOKYO.public)
    return charon_log_lines(
        outcome,
        cloud=router,
        device=tunnel,
        public_address=TOKYO.public,
        at=datetime(2020, 7, 18, 13, 21, sa),
        hostname="rt-112700568505",
        numbers=SaNumbers(ike_sa=sa, child_sa=sa, spi_in=f"c{sa:07x}", spi_out=f"f{sa:07x}"),
    )


SEED_LOGS = [
    ARTICLE_LOG.read_text(encoding="utf-8").splitlines(),
    _lab_log("v2", 1),
    _lab_log("v1", 2),  # main mode refused
    _lab_log("v2", 3, psk=PSK + "-other"),
    _lab_log("v2", 4, remote_id="10.9.9.9"),
    _lab_log("v2", 5, peer="203.0.113.77"),
]

#: how a negotiation ends, in charon's words (strongSwan 5.9)
_OUTCOMES = (
    "no peer config found",
    "decryption failed",
    "no proposal found",
    "no matching proposal found, sending NO_PROPOSAL_CHOSEN",
    "message parsing failed",
    "could not decrypt payloads",
    "no IKE config found for 27.133.132.134...{addr}, sending NO_PROPOSAL_CHOSEN",
    "initiating Main Mode IKE_SA {name}[7] to {addr}",
    "sending retransmit 2 of request message ID 0, seq 1",
    "giving up after 5 retransmits",
    "peer not responding, trying again (2/3)",
    "establishing IKE_SA failed, peer not responding",
    "ignoring IKE_SA setup from {addr}, per-IP half-open IKE_SA limit of 5 reached",
    "deleting half open IKE_SA with {addr} after timeout",
)
#: what charon prints that the classifier reads (strongSwan 5.9 wording), with slots
_MESSAGES = (
    "received packet: from {addr}[500] to 27.133.132.134[500] (184 bytes)",
    "sending packet: from 27.133.132.134[500] to {addr}[500] (124 bytes)",
    "parsed ID_PROT request 0 [ SA V ]",
    "parsed IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) ]",
    "{addr} is initiating a Main Mode IKE_SA",
    "looking for pre-shared key peer configs matching 27.133.132.134...{addr}[{ident}]",
    'selected peer config "{name}"',
    "IKE_SA {name}[2] established between 27.133.132.134[27.133.132.134]...{addr}[{ident}]",
    "CHILD_SA {name}{{3}} established with SPIs c0000001_i f0000001_o and TS 0.0.0.0/0",
    "selected proposal: ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ",
    "received proposals: IKE:{alg}/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536",
    "configured proposals: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/{group}",
    "received proposals: ESP:{alg}/HMAC_SHA1_96/{group}/NO_EXT_SEQ",
    "configured proposals: ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ",
    *_OUTCOMES,
    "{garbage}",
)
_ADDRESSES = st.sampled_from([TOKYO.public, TOKYO.wan, "203.0.113.77", "0.0.0.0", "999.1.1.1", ""])
#: what a user may give as ``--peer`` (one line: the shell gives no line break by accident)
_PEERS = st.none() | _ADDRESSES | st.text(max_size=20).filter(str.isprintable)
_WORDS = st.sampled_from([PSK, TOKYO.wan, "%any", f"peer-{PSK}-tunnel-vti"]) | GARBAGE


_LINE = "Jul 18 13:21:40 rt-112700568505 charon: {thread:02d}[{group}] <{context}> {message}"
#: a Main Mode negotiation as the responding router logs it, in order; any may be missing
_ATTEMPT = (
    "received packet: from {addr}[500] to 27.133.132.134[500] (184 bytes)",
    "parsed ID_PROT request 0 [ SA V ]",
    "{addr} is initiating a Main Mode IKE_SA",
    "received proposals: IKE:{alg}/HMAC_SHA1_96/PRF_HMAC_SHA1/{group}",
    "configured proposals: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
    "selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
    "parsed ID_PROT request 0 [ ID HASH N(INITIAL_CONTACT) ]",
    "looking for pre-shared key peer configs matching 27.133.132.134...{addr}[{ident}]",
    'selected peer config "{name}"',
    "IKE_SA {name}[2] established between 27.133.132.134[27.133.132.134]...{addr}[{ident}]",
    "parsed QUICK_MODE request 1133148741 [ HASH SA No KE ID ID ]",
    "received proposals: ESP:{alg}/HMAC_SHA1_96/{group}/NO_EXT_SEQ",
    "configured proposals: ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ",
    "selected proposal: ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ",
    "CHILD_SA {name}{{3}} established with SPIs c0000001_i f0000001_o and TS 0.0.0.0/0",
)


@st.composite
def _fields(draw: st.DrawFn, *, secret_identity: bool = False) -> dict[str, str]:
    address = draw(_ADDRESSES | st.just(PSK))
    return {
        "addr": address,
        "ident": PSK if secret_identity else draw(_WORDS),
        "name": draw(st.sampled_from([f"peer-{address}-tunnel-vti", PSK, "x"]) | GARBAGE),
        "alg": draw(st.sampled_from(["AES_CBC_128", "AES_CBC_256", "3DES_CBC", "BOGUS"])),
        "group": draw(st.sampled_from(["MODP_1536", "MODP_2048", "ECP_999", ""])),
        "garbage": draw(GARBAGE),
    }


def _line(draw: st.DrawFn, message: str, fields: dict[str, str], number: str) -> str:
    context = draw(st.sampled_from([number, f"{fields['name']}|{number}", f"{PSK}|{number}"]))
    return _LINE.format(
        thread=draw(st.integers(0, 99)),
        group=draw(st.sampled_from(["NET", "ENC", "IKE", "CFG", "KNL", "LIB"])),
        context=context,
        message=message.format(**fields),
    )


@st.composite
def charon_line(draw: st.DrawFn) -> str:
    """One line as charon writes it to the router's log, its fields drawn at random."""
    number = draw(st.sampled_from(["1", "2", "3", "", "x", PSK]))
    return _line(draw, draw(st.sampled_from(_MESSAGES)), draw(_fields()), number)


@st.composite
def charon_attempt(draw: st.DrawFn, *, secret_identity: bool = False) -> list[str]:
    """One negotiation under one IKE_SA number: some of its steps, then maybe an outcome."""
    fields = draw(_fields(secret_identity=secret_identity))
    number = str(draw(st.integers(1, 4)))
    steps = [  # most steps are there; the identity's, when it is the point
        step
        for step in _ATTEMPT
        if draw(st.integers(0, 3)) or (secret_identity and "[{ident}]" in step)
    ]
    # with a secret identity, a failure after it is what would quote it
    ends = st.sampled_from(_OUTCOMES) if secret_identity else st.none() | st.sampled_from(_OUTCOMES)
    outcome = draw(ends)
    if outcome:  # a failure ends the negotiation where it happens
        after = 0  # with a secret identity: after the line that shows it
        if secret_identity:
            after = next((i + 1 for i, step in enumerate(steps) if "[{ident}]" in step), 0)
        steps = [*steps[: draw(st.integers(after, len(steps)))], outcome]
    return [_line(draw, message, fields, number) for message in steps]


@st.composite
def router_log(draw: st.DrawFn) -> list[str]:
    """Seed logs and charon-shaped lines, mixed, then damaged."""
    lines: list[str] = []
    for seed in draw(st.lists(st.sampled_from(SEED_LOGS), max_size=3)):
        lines += seed
    for attempt in draw(st.lists(charon_attempt(), max_size=3)):
        lines += attempt
    lines += draw(st.lists(charon_line(), max_size=8))
    if draw(st.booleans()):
        lines = draw(st.permutations(lines))
    if draw(st.booleans()) and lines:
        lines = draw(mutated_lines(lines))
    return lines


def assert_sound(result: Diagnosis, lines: list[str]) -> None:
    """A CONTRACT cause, one non-empty line of detail, evidence from the log, no PSK."""
    assert result.cause in CONTRACT_CAUSES, result.cause
    assert isinstance(result.detail, str) and result.detail.strip()
    assert len(result.detail.splitlines()) == 1, result.detail
    assert PSK not in result.detail, result.detail
    if result.cause == "ok":  # only a log that shows the tunnel up can say it is up
        assert any("established with SPIs" in line for line in lines)
    stripped = {SECRETS.redact(line.strip()) for line in "\n".join(lines).splitlines()}
    for line in result.evidence:
        assert PSK not in line
        assert line in stripped, f"evidence {line!r} is not a line of the log"


def test_an_identity_that_is_a_secret_is_masked_in_the_detail() -> None:
    """Found by the fuzzing below: the detail quoted the presented identity unmasked."""
    lines = [
        _LINE.format(thread=5, group=group, context="2", message=message)
        for group, message in [
            (
                "NET",
                f"received packet: from {TOKYO.public}[500] to 27.133.132.134[500] (108 bytes)",
            ),
            ("ENC", "parsed ID_PROT request 0 [ SA V ]"),
            ("CFG", f"looking for pre-shared key peer configs matching x...{TOKYO.public}[{PSK}]"),
            ("IKE", "no peer config found"),
        ]
    ]
    result = diagnose_log("\n".join(lines))
    assert result.cause == "id_mismatch"
    assert "presents identity <redacted>" in result.detail and PSK not in result.detail


def test_the_seeds_cover_several_verdicts() -> None:
    """So the fuzzing below starts from logs that mean something, not only from noise."""
    causes = {diagnose_log("\n".join(seed)).cause for seed in SEED_LOGS}
    assert {"ok", "proposal_mismatch_main_mode", "psk_mismatch", "id_mismatch"} <= causes


@fuzz(120)
@given(lines=router_log(), peer=_PEERS)
def test_any_log_gets_a_contract_cause_and_a_detail(lines: list[str], peer: str | None) -> None:
    result = diagnose_log("\n".join(lines), peer=peer)
    assert_sound(result, lines)
    if not any(" charon" in line for line in lines):
        assert result.cause == "no_response"


@fuzz(150)
@given(
    attempt=charon_attempt() | charon_attempt(secret_identity=True),
    peer=st.none() | st.just(TOKYO.public),
)
def test_one_negotiation_gets_a_sound_verdict(attempt: list[str], peer: str | None) -> None:
    """One IKE_SA's lines alone: its outcome decides, so every verdict path is reached;
    half of them with the PSK as the identity the F220 presents."""
    assert_sound(diagnose_log("\n".join(attempt), peer=peer), attempt)


@fuzz(100)
@given(text=st.text(max_size=2000), peer=_PEERS)
def test_any_text_gets_a_contract_cause_and_a_detail(text: str, peer: str | None) -> None:
    result = diagnose_log(text, peer=peer)
    assert_sound(result, text.splitlines())


@fuzz(4)
@given(lines=router_log(), tail=st.binary(max_size=40))
def test_diagnose_from_log_command(lines: list[str], tail: bytes) -> None:
    """The real command line: one JSON document, exit 0 for ok and 1 for any other cause."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vpn.log"
        path.write_bytes("\n".join(lines).encode("utf-8", errors="surrogateescape") + tail)
        result = run_in_process("diagnose", "--from-log", str(path), "--json")
    assert "Traceback" not in result.stderr and result.stderr == ""
    document = json.loads(result.stdout)
    assert document["cause"] in CONTRACT_CAUSES and document["detail"].strip()
    assert document["file"] == str(path)
    assert result.returncode == (0 if document["cause"] == "ok" else 1)


@pytest.mark.parametrize("name", ["missing.log", "."])
def test_a_log_that_cannot_be_read_is_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    result = run_in_process("diagnose", "--from-log", str(path), "--json")
    one_line_error(result, f"{path}: cannot read the log")
    assert result.returncode == 2


@pytest.mark.parametrize("peer", ["tokyo", "126.169.118", "a\nb", ""])
def test_a_peer_that_is_not_an_address_is_refused(peer: str) -> None:
    """Found by the fuzzing above: `--peer` was echoed into the detail, line breaks and all,
    and a name (`--peer tokyo`) gave a misleading no_response."""
    result = run_in_process("diagnose", "--from-log", str(ARTICLE_LOG), "--peer", peer)
    one_line_error(result, f"--peer {peer!r} is not an IPv4 address")
    assert result.returncode == 2
