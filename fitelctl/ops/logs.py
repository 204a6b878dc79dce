"""``logs``: a site's VPC router VPN log (strongSwan charon), once or followed.

The API only offers the whole log as one download, so following means
downloading again every few seconds and printing what was added.  The router
keeps a bounded log, dropping old lines as new ones come, so "added" is what
follows the longest end of the previous download that the new one starts with
(``new_lines``).  Every line is redacted before it leaves, with the router's
own PSKs (every peer's, read from its settings first) among the values masked.

Polling waits on a ``Waiter`` (a ``threading.Event`` by default) rather than
sleeping, so that a caller can end the loop from elsewhere and tests can drive
it without real time passing; Ctrl-C ends it in the terminal, and so does the
command's deadline when ``--timeout`` was given (no download starts in its last wait).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from fitelctl.deadline import Deadline, current
from fitelctl.inventory import Inventory
from fitelctl.ops.cloud import client_for
from fitelctl.redact import SECRETS

#: seconds between downloads when following
POLL_INTERVAL = 2.0


class Waiter(Protocol):
    """Waits up to ``timeout`` seconds; True means stop (``threading.Event.wait``)."""

    def wait(self, timeout: float) -> bool: ...


def router_log(inventory: Inventory, site: str, lines: int) -> list[str]:
    """The last ``lines`` lines of the VPN log of ``site``'s VPC router, redacted."""
    client, appliance_id = client_for(inventory, site)
    with client:
        client.read_appliance(appliance_id)  # registers every peer's PSK for redaction
        return [SECRETS.redact(line) for line in _tail(client.vpn_log(appliance_id).lines, lines)]


def follow_router_log(
    inventory: Inventory,
    site: str,
    *,
    lines: int,
    interval: float = POLL_INTERVAL,
    stop: Waiter | None = None,
) -> Iterator[str]:
    """The last ``lines`` lines, then each line the router adds, until ``stop`` says so."""
    client, appliance_id = client_for(inventory, site)
    with client:
        client.read_appliance(appliance_id)  # registers every peer's PSK for redaction

        def fetch() -> list[str]:
            return client.vpn_log(appliance_id).lines

        until = _Until(stop or threading.Event(), current())
        for line in follow(fetch, lines=lines, interval=interval, stop=until):
            yield SECRETS.redact(line)


class _Until:
    """``stop``, or the command's deadline: no download starts that it would cut short."""

    def __init__(self, stop: Waiter, deadline: Deadline) -> None:
        self.stop, self.deadline = stop, deadline

    def wait(self, timeout: float) -> bool:
        left = self.deadline.remaining()
        if left <= timeout:
            self.stop.wait(left)
            return True
        return self.stop.wait(timeout)


def follow(
    fetch: Callable[[], list[str]], *, lines: int, interval: float, stop: Waiter
) -> Iterator[str]:
    """``tail -n lines -f`` over repeated whole-log downloads."""
    seen = fetch()
    yield from _tail(seen, lines)
    while not stop.wait(interval):
        current = fetch()
        yield from new_lines(seen, current)
        seen = current


def new_lines(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """Lines of ``after`` that ``before`` did not have.

    ``after`` is ``before`` with some lines dropped at the start and some added at
    the end; the added ones follow the longest end of ``before`` that ``after``
    starts with.  When none matches (the router was reset, or more was dropped
    than read), all of ``after`` is new.
    """
    if not after:
        return []
    for start, line in enumerate(before):
        overlap = len(before) - start
        if line == after[0] and overlap <= len(after) and after[:overlap] == before[start:]:
            return list(after[overlap:])
    return list(after)


def _tail(lines: list[str], count: int) -> list[str]:
    return lines[max(0, len(lines) - count) :]
