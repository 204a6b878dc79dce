"""One overall deadline per command (``--timeout SECONDS``), retries and waits included.

A command that touches the network opens ``command_deadline(seconds)`` once; every
layer below asks ``current()`` how long it may still take: the API client clamps each
request's timeout and each retry's wait to it, ``connect_site`` clamps the SSH connect
and command timeouts to it, and fleet commands stop waiting for sites when it runs out.
The deadline is per command, never per attempt: a retry gets only what is left.

The current deadline is process-wide on purpose: worker threads do not inherit
context variables, and one process runs one command.  It is set before any worker
starts and only read afterwards, so threads share it safely.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fitelctl.errors import FitelctlError

#: the shortest timeout handed to a library: 0 would mean "no timeout" to some of them
MIN_ATTEMPT = 0.05


class DeadlineExceeded(FitelctlError):
    """The command's ``--timeout`` ran out; exit 3 (UNKNOWN, as monitoring plugins do)."""

    exit_code = 3


@dataclass(frozen=True)
class Deadline:
    """A point in monotonic time, or none (``seconds`` None: no limit)."""

    seconds: float | None
    ends: float = math.inf

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        if seconds is None:
            return cls(None)
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (never negative; ``inf`` without a limit)."""
        return max(0.0, self.ends - time.monotonic())

    def wait_timeout(self, extra: float = 0.0) -> float | None:
        """``remaining() + extra`` for a blocking wait; None (wait for ever) without a limit."""
        return None if self.seconds is None else self.remaining() + extra

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def clamp(self, timeout: float) -> float:
        """``timeout`` for one attempt, cut to what is left of the whole command."""
        return max(MIN_ATTEMPT, min(timeout, self.remaining()))

    def check(self, doing: str) -> None:
        """Raise ``DeadlineExceeded`` naming what was being done, when no time is left."""
        if self.expired:
            raise self.exceeded(doing)

    def exceeded(self, doing: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{doing}: the command's {self.seconds:g}s deadline ran out (--timeout)"
        )

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or until the deadline if that comes first."""
        time.sleep(max(0.0, min(seconds, self.remaining())))


NO_DEADLINE = Deadline(None)
_current = NO_DEADLINE


def current() -> Deadline:
    """The running command's deadline (``NO_DEADLINE`` outside ``command_deadline``)."""
    return _current


@contextmanager
def command_deadline(seconds: float | None, *, left: float | None = None) -> Iterator[Deadline]:
    """Make a deadline ``seconds`` from now the current one until the block ends.

    ``left``: only that much of ``seconds`` remains (a deadline resumed after a pause,
    such as the time an operator takes to confirm a change).
    """
    global _current
    deadline = Deadline.after(seconds)
    if seconds is not None and left is not None:
        deadline = Deadline(seconds, time.monotonic() + left)
    previous, _current = _current, deadline
    try:
        yield _current
    finally:
        _current = previous
