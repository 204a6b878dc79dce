"""``--shard K/N`` decided alike by every exporter process."""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT, shard_fleet

from fitelctl.exporter.shard import group_key, share_of


def test_shares_are_the_same_in_another_process() -> None:
    """No dependence on Python's per-process hash seed: every exporter agrees.  The other
    process imports only the share function (a share is decided by its group key alone)."""
    inventory = shard_fleet()
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
