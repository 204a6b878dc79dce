"""Run one piece of work per site on a bounded pool of threads, results as they finish.

Sites are independent SSH sessions: threads keep each one's timeout its own, and
the bound keeps a large fleet from opening hundreds of sessions at once.  A slow
or unreachable site holds one worker for its own timeout while the others go on;
only when more sites than workers hang at once do the rest queue behind them.

The workers are daemon threads, so a session stuck past the command's deadline
cannot keep the process alive: ``run_until`` returns what finished in time and the
process exits without waiting for the rest.  (``concurrent.futures`` workers are
joined at interpreter exit, which is why this module does not use its executor.)

If the caller stops early (Ctrl-C, or ``work`` raising), sites not yet started are
not started at all, so an interrupted run over hundreds of sites ends in seconds.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from fitelctl.deadline import NO_DEADLINE, Deadline

T = TypeVar("T")


def run_until(
    sites: list[str],
    work: Callable[[str], T],
    *,
    workers: int,
    deadline: Deadline = NO_DEADLINE,
    on_done: Callable[[str, T], None] | None = None,
) -> dict[str, T]:
    """``work(site)`` for every site until ``deadline``; ``on_done`` as each finishes.

    Returns the results of the sites that finished in time; an exception of ``work``
    is raised here (and no further site starts).
    """
    if not sites:
        return {}
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for site in sites:
        todo.put(site)
    finished: queue.SimpleQueue[tuple[str, Future[T]]] = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                site = todo.get_nowait()
            except queue.Empty:
                return
            future: Future[T] = Future()
            try:
                future.set_result(work(site))
            except BaseException as exc:  # handed to the caller, who decides
                future.set_exception(exc)
            finished.put((site, future))

    for number in range(max(1, min(workers, len(sites)))):
        threading.Thread(target=worker, name=f"site-worker-{number}", daemon=True).start()
    results: dict[str, T] = {}
    try:
        while len(results) < len(sites):
            try:
                site, future = finished.get(timeout=deadline.wait_timeout())
            except queue.Empty:
                break  # the deadline: what has not finished is the caller's to report
            results[site] = future.result()
            if on_done:
                on_done(site, results[site])
    finally:
        stop.set()
    return results


def for_each_site(
    sites: list[str],
    work: Callable[[str], T],
    *,
    workers: int,
    on_done: Callable[[T], None] | None = None,
) -> list[T]:
    """``work(site)`` for every site; ``on_done`` as each finishes; results in ``sites`` order."""
    results = run_until(
        sites, work, workers=workers, on_done=(lambda _site, r: on_done(r)) if on_done else None
    )
    return [results[site] for site in sites]
