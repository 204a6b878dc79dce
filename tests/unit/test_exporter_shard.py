"""``--shard K/N``: deterministic shares that keep a VPC router's sites together."""

from __future__ import annotations

import pytest
from helpers import shard_fleet

from fitelctl.exporter.sessions import SessionPolicy
from fitelctl.exporter.shard import BadShard, group_key, parse_shard, shard_sites


def test_shares_cover_the_inventory_once_and_keep_routers_whole() -> None:
    inventory = shard_fleet()
    names = inventory.select([])
    shares = [shard_sites(inventory, names, k, 3) for k in (1, 2, 3)]
    assert sorted(site for share in shares for site in share) == sorted(names)
    assert all(shares), "40 sites on 7 routers leave no share empty"
    for share in shares:
        routers = {group_key(inventory, site) for site in share}
        others = [s for s in names if s not in share]
        assert not routers & {group_key(inventory, site) for site in others}


@pytest.mark.parametrize("text", ["1", "0/3", "4/3", "a/b", "1/2/3", ""])
def test_a_bad_shard_says_what_is_expected(text: str) -> None:
    with pytest.raises(BadShard, match=r"--shard .*(K/N|between 1 and N)"):
        parse_shard(text)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy = SessionPolicy(backoff_min=1.0, backoff_max=8.0)
    assert policy.backoff(0) == 0
    for failures, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        waits = {policy.backoff(failures) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1, "jitter: a fleet must not come back in step"
