"""A plan the operator declines ends failed, says so, and is no longer applied."""

from __future__ import annotations

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.ops.apply import Plan, SiteOutcome, not_confirmed


def test_a_declined_plan_is_failed_with_nothing_changed() -> None:
    outcome = SiteOutcome("tokyo", result="dry_run", diff=["ipsec ike protocol-ike-peer 1"])
    plan = Plan("tokyo", ["ipsec ike protocol-ike-peer 1"], ConfigTree.parse(""), outcome)
    assert plan.ready

    declined = not_confirmed(plan)

    assert declined is plan.outcome
    assert not plan.ready
    assert declined.to_json() == {
        "site": "tokyo",
        "result": "failed",
        "saved": False,
        "diff": ["ipsec ike protocol-ike-peer 1"],
        "problems": ["not confirmed; nothing was changed"],
    }
