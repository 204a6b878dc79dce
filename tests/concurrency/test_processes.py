"""Fleet reads spread over processes (``ops/processes.py``): same results, nothing lost."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from fitelctl.deadline import Deadline
from fitelctl.ops.processes import SITES_PER_PROCESS, SpreadRun, processes_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux")

SITES = [f"site{number}" for number in range(1, 31)]


def where(site: str) -> tuple[str, int]:
    return site.upper(), os.getpid()


def test_every_site_read_once_by_one_of_the_processes() -> None:
    seen: list[tuple[str, str, int]] = []

    def record(site: str, result: tuple[str, int]) -> None:
        assert threading.current_thread() is threading.main_thread()  # as with run_until
        seen.append((site, *result))

    results = SpreadRun(SITES, where, processes=3, workers=4).run(on_done=record)
    assert {site: upper for site, (upper, _) in results.items()} == {s: s.upper() for s in SITES}
    assert sorted(site for site, _, _ in seen) == sorted(SITES)  # each reported once
    readers = {pid for _, _, pid in seen}
    assert len(readers) == 3 and os.getpid() in readers  # this process read a share too


def test_a_share_whose_work_fails_goes_unanswered_and_the_rest_arrive() -> None:
    parent = os.getpid()

    def fails_in_children(site: str) -> str:
        if os.getpid() != parent:
            raise RuntimeError("a bug in a child")
        return site

    started = time.monotonic()
    results = SpreadRun(SITES, fails_in_children, processes=2, workers=4).run()
    assert set(results) == set(SITES[0::2])  # this process's share; the child's is missing
    assert time.monotonic() - started < 10  # the dead child's pipe closed: no wait


def test_an_exception_in_this_process_is_raised_as_run_until_does() -> None:
    parent = os.getpid()

    def fails_here(site: str) -> str:
        if os.getpid() == parent:
            raise ValueError("a bug here")
        return site

    with pytest.raises(ValueError, match="a bug here"):
        SpreadRun(SITES, fails_here, processes=2, workers=4).run()


def test_a_child_still_reading_at_the_deadline_is_killed() -> None:
    parent = os.getpid()

    def hangs_in_children(site: str) -> str:
        if os.getpid() != parent:
            time.sleep(60)
        return site

    spread = SpreadRun(
        SITES, hangs_in_children, processes=2, workers=4, deadline=Deadline.after(0.3)
    )
    results = spread.run()
    assert set(results) == set(SITES[0::2])
    (child,) = spread.children
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left
        os.waitpid(child.pid, os.WNOHANG)


def test_one_process_for_a_small_fleet() -> None:
    assert processes_for(1) == 1
    assert processes_for(SITES_PER_PROCESS * 2 - 1) == 1
    cores = len(os.sched_getaffinity(0))
    assert processes_for(SITES_PER_PROCESS * 64) == cores
    assert SpreadRun(SITES, where, processes=1, workers=4).children == []
