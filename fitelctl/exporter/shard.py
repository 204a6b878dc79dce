"""``--shard K/N``: a deterministic share of the inventory, whole VPC routers at a time.

The sites of one VPC router share its API read, so they always land in the same
share.  A router's share is a hash of its zone and appliance ID (a site without a
router is hashed by its name): the same inventory gives the same shares on every
host and every start, with no coordinator, and adding a router moves no other.
"""

from __future__ import annotations

import hashlib

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory


class BadShard(FitelctlError):
    pass


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` → (2, 3); K counts from 1."""
    try:
        k_text, n_text = text.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise BadShard(f"--shard {text!r}: expected K/N, e.g. 1/3") from None
    if not 1 <= k <= n:
        raise BadShard(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def group_key(inventory: Inventory, site: str) -> str:
    """What decides a site's share: its VPC router, or the site itself without one."""
    cloud = inventory.site(site).cloud
    if cloud.vpc_router_id is None:
        return f"site:{site}"
    return f"router:{cloud.zone or ''}:{cloud.vpc_router_id}"


def share_of(key: str, n: int) -> int:
    """The share (1..n) of a group key."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def shard_sites(inventory: Inventory, sites: list[str], k: int, n: int) -> list[str]:
    """The sites of share ``k`` of ``n``, in inventory order."""
    return [site for site in sites if share_of(group_key(inventory, site), n) == k]
