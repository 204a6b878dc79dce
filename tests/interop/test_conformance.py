"""The negotiation model and ``check`` held to real charons, over 300 seeded random pairs.

Each pair (``conformance_pairs``) is run through the real charons (the F220's config
and the router's settings translated to swanctl, the F220 initiating as it does with
``always-up``) and through ``fitelctl.ike.negotiate``; they must agree on the outcome,
and when the tunnel comes up, on the algorithms each phase selected.  ``check`` is run
over the pairs the inventory can express: an error from it must mean the real
negotiation fails; the real failures it does not predict are counted by class (it
cannot see the router's PSK) and printed with the report (``pytest -rP``).
"""

from __future__ import annotations

from collections import Counter

import pytest
from conformance_pairs import PSK_ENV, Pair, draw_pairs
from helpers import NEGOTIATED_CAUSES

from fitelctl.fitelnet.algorithms import DH_GROUP_BY_NUMBER, HASH_BY_WORD
from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.ike import accepted_set, negotiate
from fitelctl.lab.strongswan.referee import Bench, Observed
from fitelctl.lab.strongswan.translate import device_connections, router_connections
from fitelctl.ops.check import check_site, has_errors

pytestmark = pytest.mark.interop

Verdict = tuple[str, str, str]  # (cause, IKE proposal, ESP proposal)


def test_the_model_and_check_agree_with_real_charons_on_300_random_pairs(
    benches: dict[bool, Bench], monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = draw_pairs()
    disagreements: list[str] = []
    real_causes: Counter[str] = Counter()
    check_tally: Counter[str] = Counter()
    for pair in pairs:
        observed = _real(benches[pair.nat], pair)
        real = (observed.cause, observed.ike_proposal, observed.esp_proposal)
        real_causes[observed.cause] += 1
        model = _model(pair)
        if model != real:
            disagreements.append(_disagreement(pair, model, observed))
        if pair.inventory is not None:
            monkeypatch.setenv(PSK_ENV, pair.device_psk)
            check_errs = has_errors(check_site(pair.inventory, "pair"))
            check_tally[_check_class(check_errs, observed)] += 1

    print(_report(len(pairs), real_causes, check_tally, len(disagreements)))
    assert not disagreements, f"{len(disagreements)} of {len(pairs)} pairs:\n" + "\n".join(
        disagreements[:8]
    )
    assert check_tally["check error, real up"] == 0
    # every outcome class was reached, or the pairs do not test what they claim to
    assert set(real_causes) >= NEGOTIATED_CAUSES


def _real(bench: Bench, pair: Pair) -> Observed:
    lab = bench.addresses(
        router=pair.cloud_peer.global_address,
        office_public=pair.office_public,
        device=pair.device_wan,
    )
    device = device_connections(pair.config_text, lab, own_address=pair.device_wan)[0]
    routers = router_connections(
        pair.settings,
        version=pair.router_version,
        global_address=pair.cloud_peer.global_address,
        lab=lab,
    )
    return bench.negotiate(device, routers, initiator="device")


def _model(pair: Pair) -> Verdict:
    tunnel = read_tunnels(ConfigTree.parse(pair.config_text))[0]
    assert isinstance(tunnel, DeviceTunnel)
    outcome = negotiate(tunnel, pair.cloud_peer, device_public_address=pair.office_public)
    if not outcome.up:
        return outcome.cause, "", ""
    want = accepted_set(pair.cloud_peer)
    integrity = HASH_BY_WORD[want.hash].charon_integrity
    ike = (
        f"AES_CBC/{outcome.ike_aes_bits}/{integrity}/{HASH_BY_WORD[want.hash].charon_prf}/"
        f"{DH_GROUP_BY_NUMBER[want.dh_group].charon}"
    )
    esp = f"AES_CBC/{outcome.esp_aes_bits}/{integrity}/{DH_GROUP_BY_NUMBER[want.pfs_group].charon}"
    return "ok", ike, esp


def _check_class(check_errors: bool, observed: Observed) -> str:
    real = "real up" if observed.up else "real fails"
    if check_errors:
        return f"check error, {real}"
    return f"check clean, {real}" + ("" if observed.up else f" ({observed.cause})")


def _disagreement(pair: Pair, model: Verdict, observed: Observed) -> str:
    decisive = [line[16:] for line in observed.router_log if "[IKE]" in line or "[CFG]" in line]
    return (
        f"{pair.summary}\n  model: {model}\n  real:  "
        f"{(observed.cause, observed.ike_proposal, observed.esp_proposal)}\n  router log: "
        + "\n    ".join(decisive[-6:])
    )


def _report(count: int, causes: Counter[str], check: Counter[str], disagreeing: int) -> str:
    lines = [f"conformance: {count} pairs, {count - disagreeing} agree with real charons"]
    lines += [f"  real {cause}: {n}" for cause, n in sorted(causes.items())]
    lines += [f"  {what}: {n}" for what, n in sorted(check.items())]
    return "\n".join(lines)
