"""Run one piece of work per site on a bounded thread pool, results as they finish.

Sites are independent SSH sessions: threads keep each one's timeout its own, and
the bound keeps a large fleet from opening hundreds of sessions at once.
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
    results: dict[str, T] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sites)))) as pool:
        futures = {pool.submit(work, site): site for site in sites}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_done:
                on_done(result)
    return [results[site] for site in sites]
