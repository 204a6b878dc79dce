"""``run_until`` over several processes, for fleet reads that are CPU-bound in the client.

Reading a fleet costs client CPU per site (SSH key exchange and ciphers, the CLI
dialogue, TextFSM), and one Python process does it on one core at a time.  With
more sites than one core keeps up with, the sites are dealt round-robin to one
process per core: this process reads its share on its threads, and each share
beyond the first is read by a child forked from it, which sends each site's result
back over a pipe as it finishes.  Results reach ``on_done`` in this process, on the
caller's thread, in the order they arrive, exactly as with ``run_until``.

Children are forked before this process starts any thread of its own, so a child
holds no lock another thread had taken (``status`` does not spread while its progress
bar, which has a thread, is drawn).  Forking is used on Linux only (elsewhere,
and for one process, this is ``run_until``).  A child that dies leaves its
unfinished sites out of the results, as the deadline does; children still reading
at the deadline are killed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO, Generic, TypeVar

from fitelctl.deadline import NO_DEADLINE, Deadline
from fitelctl.ops.pool import run_until

T = TypeVar("T")

#: fewer sites than this per process, and the fork and the split cost more than they save
SITES_PER_PROCESS = 50


def processes_for(sites: int) -> int:
    """One process per usable core, as long as each gets ``SITES_PER_PROCESS`` sites."""
    if not sys.platform.startswith("linux"):
        return 1
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores, sites // SITES_PER_PROCESS))


class SpreadRun(Generic[T]):
    """``run_until`` with the sites spread over ``processes`` processes.

    Constructing it forks the children at once: do it before this process starts
    threads of its own (see the module's docstring); ``run`` then reads this
    process's share and collects every result.  ``work``'s results must pickle;
    ``workers`` threads run in each process.  An exception of ``work`` in a child
    ends that child's share (its sites go unanswered); in this process it is raised,
    as ``run_until`` does.
    """

    def __init__(
        self,
        sites: list[str],
        work: Callable[[str], T],
        *,
        processes: int,
        workers: int,
        deadline: Deadline = NO_DEADLINE,
    ) -> None:
        self.sites, self.work, self.workers, self.deadline = sites, work, workers, deadline
        count = max(1, min(processes, len(sites))) if sys.platform.startswith("linux") else 1
        shares = [sites[index::count] for index in range(count)]
        self.own_share = shares[0]
        if count > 1:
            sys.stdout.flush()
            sys.stderr.flush()
        self.children = [_Child.fork(share, work, workers, deadline) for share in shares[1:]]

    def run(self, on_done: Callable[[str, T], None] | None = None) -> dict[str, T]:
        """Every share's results until the deadline; ``on_done`` on this thread as they come."""
        if not self.children:
            return run_until(
                self.sites, self.work, workers=self.workers, deadline=self.deadline, on_done=on_done
            )
        arrived: queue.SimpleQueue[tuple[str, T] | BaseException | None] = queue.SimpleQueue()
        for child in self.children:
            threading.Thread(
                target=child.receive, args=(arrived,), name=f"share-{child.pid}", daemon=True
            ).start()
        threading.Thread(
            target=self._read_own_share, args=(arrived,), name="share-own", daemon=True
        ).start()
        results: dict[str, T] = {}
        open_shares = len(self.children) + 1
        try:
            while open_shares and len(results) < len(self.sites):
                try:
                    item = arrived.get(timeout=self.deadline.wait_timeout())
                except queue.Empty:
                    break  # the deadline: what has not finished is the caller's to report
                if item is None:
                    open_shares -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    site, result = item
                    results[site] = result
                    if on_done:
                        on_done(site, result)
        finally:
            for child in self.children:
                child.stop()
        return results

    def _read_own_share(
        self, arrived: queue.SimpleQueue[tuple[str, T] | BaseException | None]
    ) -> None:
        try:
            run_until(
                self.own_share,
                self.work,
                workers=self.workers,
                deadline=self.deadline,
                on_done=lambda site, result: arrived.put((site, result)),
            )
        except BaseException as exc:  # handed to the caller in run()
            arrived.put(exc)
        arrived.put(None)


class _Child:
    """A forked process reading one share; its results arrive on ``pipe``."""

    def __init__(self, pid: int, pipe: BinaryIO) -> None:
        self.pid = pid
        self.pipe = pipe
        self._lock = threading.Lock()
        self._reaped = False

    @classmethod
    def fork(
        cls, share: list[str], work: Callable[[str], T], workers: int, deadline: Deadline
    ) -> _Child:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: read, send, leave without running the parent's exit code
            os.close(read_end)
            code = 0
            try:
                with os.fdopen(write_end, "wb") as pipe:

                    def send(site: str, result: T) -> None:
                        pickle.dump((site, result), pipe)
                        pipe.flush()

                    run_until(share, work, workers=workers, deadline=deadline, on_done=send)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(write_end)
        return cls(pid, os.fdopen(read_end, "rb"))

    def receive(self, arrived: queue.SimpleQueue[tuple[str, T] | BaseException | None]) -> None:
        """Hand on the results until the pipe closes, then reap the child."""
        with self.pipe:
            while True:
                try:
                    arrived.put(pickle.load(self.pipe))
                except (EOFError, pickle.UnpicklingError, OSError):
                    break
        self._reap(kill=False)
        arrived.put(None)

    def stop(self) -> None:
        """Kill the child if it is still reading (past the deadline), and reap it."""
        self._reap(kill=True)

    def _reap(self, *, kill: bool) -> None:
        with self._lock:  # once: a reaped pid may already belong to another process
            if self._reaped:
                return
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self._reaped = True
