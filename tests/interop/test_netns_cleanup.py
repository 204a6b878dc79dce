"""The lab's namespaces and charons go away: on close, and after the lab is SIGKILLed.

A child process plays the lab: it makes a bench (namespaces, veth, two charons) and is
killed with SIGKILL, so nothing of its own cleans up.  ``remove_leftovers`` must then
remove its namespaces and kill its charons, and leave a live lab's namespaces alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, leftovers_lock, require_strongswan

from fitelctl.lab.strongswan.netns import (
    OWNERS_DIR,
    Namespaces,
    ip,
    process_running,
    remove_leftovers,
)
from fitelctl.lab.strongswan.referee import Bench

pytestmark = pytest.mark.interop

_LAB = """
import sys, time
from pathlib import Path
from fitelctl.lab.strongswan.referee import Bench
bench = Bench(Path(sys.argv[1]), nat=True)
bench.start()
print("ready", flush=True)
time.sleep(600)
"""


def _namespaces_of(pid: int) -> list[str]:
    return [n for n in ip("netns", "list").split() if n.startswith(f"fitelctl-{pid}-")]


def _charons_in(names: list[str]) -> list[int]:
    return [int(p) for name in names for p in ip("netns", "pids", name).split()]


def test_a_killed_labs_namespaces_and_charons_are_removed_by_the_next_start(
    tmp_path: Path,
) -> None:
    require_strongswan()
    with leftovers_lock(exclusive=True):
        _kill_a_lab_and_clean_up(tmp_path)


def _kill_a_lab_and_clean_up(tmp_path: Path) -> None:
    mine = Namespaces()
    live = mine.create("live")  # a live lab's namespace: must survive
    lab = subprocess.Popen(
        [sys.executable, "-c", _LAB, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert lab.stdout is not None and lab.stdout.readline().strip() == "ready"
        left = _namespaces_of(lab.pid)
        charons = _charons_in(left)
        assert len(left) == 3 and len(charons) == 2  # router, NAT, device; two charons

        lab.send_signal(signal.SIGKILL)
        lab.wait(10)
        assert _namespaces_of(lab.pid) == left  # nothing cleaned itself up

        removed = remove_leftovers()

        assert sorted(removed) == sorted(left)
        assert not (OWNERS_DIR / str(lab.pid)).exists()  # its lock file went too
        assert (OWNERS_DIR / str(os.getpid())).exists()  # a live owner's stays
        assert _namespaces_of(lab.pid) == []
        deadline = time.monotonic() + 5
        while any(process_running(pid) for pid in charons) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(process_running(pid) for pid in charons)
        assert live in ip("netns", "list").split()
    finally:
        lab.kill()
        lab.wait()
        mine.close()
    assert live not in ip("netns", "list").split()


def test_closing_a_bench_leaves_no_namespace_process_or_interface(
    tmp_path: Path,
) -> None:
    require_strongswan()
    links_before = ip("-o", "link", "show")
    bench = Bench(tmp_path, nat=True)
    bench.start()
    names = _namespaces_of(os.getpid())
    charons = _charons_in(names)
    assert len(charons) == 2

    bench.close()

    assert _namespaces_of(os.getpid()) == []
    assert not any(process_running(pid) for pid in charons)
    assert ip("-o", "link", "show") == links_before  # nothing added to the host's namespace
