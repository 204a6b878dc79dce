"""``--shard K/N``: deterministic shares that keep a VPC router's sites together."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest
import yaml
from helpers import ROOT

from fitelctl.exporter.sessions import SessionPolicy
from fitelctl.exporter.shard import BadShard, group_key, parse_shard, shard_sites, share_of
from fitelctl.inventory import Inventory

EXAMPLE = ROOT / "inventory/examples/article-v2.yaml"


def fleet(sites: int = 40, routers: int = 7) -> Inventory:
    """``sites`` copies of the example's tokyo, spread over ``routers`` VPC routers."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    tokyo = data["sites"].pop("tokyo")
    for index in range(sites):
        site = copy.deepcopy(tokyo)
        site["cloud"]["vpc_router_id"] = 112700568500 + index % routers
        data["sites"][f"s{index}"] = site
    return Inventory.model_validate({**data, "base_dir": EXAMPLE.parent})


def test_shares_cover_the_inventory_once_and_keep_routers_whole() -> None:
    inventory = fleet()
    names = inventory.select([])
    shares = [shard_sites(inventory, names, k, 3) for k in (1, 2, 3)]
    assert sorted(site for share in shares for site in share) == sorted(names)
    assert all(shares), "40 sites on 7 routers leave no share empty"
    for share in shares:
        routers = {group_key(inventory, site) for site in share}
        others = [s for s in names if s not in share]
        assert not routers & {group_key(inventory, site) for site in others}


def test_shares_are_the_same_in_another_process() -> None:
    """No dependence on Python's per-process hash seed: every exporter agrees.  The other
    process imports only the share function (a share is decided by its group key alone)."""
    inventory = fleet()
    keys = sorted({group_key(inventory, site) for site in inventory.select([])})
    code = (
        "import sys\n"
        "from fitelctl.exporter.shard import share_of\n"
        "print(','.join(str(share_of(key, 3)) for key in sys.argv[1:]))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, *keys],
        cwd=ROOT,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip().split(",") == [str(share_of(key, 3)) for key in keys]
    assert len(set(other.stdout.strip().split(","))) == 3  # the keys fall into every share


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
