"""Run one piece of work per site on a bounded thread pool, results as they finish.

Sites are independent SSH sessions: threads keep each one's timeout its own, and
the bound keeps a large fleet from opening hundreds of sessions at once.  A slow
or unreachable site holds one worker for its own timeout while the others go on;
only when more sites than workers hang at once do the rest queue behind them.

If the caller stops early (Ctrl-C, or ``work`` raising), sites not yet started are
cancelled at once; only the sessions already open finish (each within its own
timeout), so an interrupted run over hundreds of sites ends in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")


def for_each_site(
    sites: list[str],
    work: Callable[[str], T],
    *,
    workers: int,
    on_done: Callable[[T], None] | None = None,
) -> list[T]:
    """``work(site)`` for every site; ``on_done`` as each finishes; results in ``sites`` order."""
    if not sites:
        return []
    results: dict[str, T] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(sites))))
    try:
        futures = {pool.submit(work, site): site for site in sites}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_done:
                on_done(result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [results[site] for site in sites]
