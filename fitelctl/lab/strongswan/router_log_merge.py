"""The VPC router's one charon log, from the lab's several router charons.

The lab gives the VPC router one charon per office (``lab_world``: kernel-libipsec has
no route-based tunnels, so one charon holding several ``0.0.0.0/0`` CHILD_SAs would
send every office's traffic into one of them).  The router the user sees has one
charon and one log, so ``RouterLogMerge`` makes one log of theirs:

- new lines of every charon, merged in time-stamp order;
- IKE_SA and CHILD_SA unique ids renumbered so that they are unique across the merged
  log, as one charon's are (``<peer-…|3>``, ``<3>``, ``peer-…[3]``, ``peer-…{5}``).
  ``vpn_log`` groups an attempt's lines by that id, so two charons' ``<1>`` must not
  meet.  A charon that starts again (router restart, power cycle) numbers from 1 again;
  its old ids are forgotten then;
- the daemon's own lines (thread ``00`` about no IKE_SA: plugins loaded, shutting
  down…) of the first charon only: the router starts and stops once, not once per office.

Lines are charon's filelog form (``charon.py``: ``Dec  7 03:05:41 14[IKE] <…> …``).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from itertools import count

_MONTHS = {
    month: number
    for number, month in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_LINE = re.compile(r"^(?P<month>[A-Z][a-z]{2}) (?P<day>[ \d]\d) (?P<time>\d\d:\d\d:\d\d) ")
#: a line of the daemon itself, about no IKE_SA
_DAEMON = re.compile(r"^\S+ [ \d]\d \S+ 00\[\w+\] (?!<)")
#: what charon logs first when it starts
_STARTED = "[LIB] loaded plugins: "
_IKE_CONTEXT = re.compile(r"<(?P<name>[^|>]*\|)?(?P<id>\d+)>")
_IKE_NAMED = re.compile(r"(?P<name>\bpeer-[0-9.]+-tunnel-vti)\[(?P<id>\d+)\]")
_CHILD_NAMED = re.compile(r"(?P<name>\bpeer-[0-9.]+-tunnel-vti)\{(?P<id>\d+)\}")


class RouterLogMerge:
    """Merges the lines each router charon logged since the last call; keeps the ids."""

    def __init__(self) -> None:
        self._ike: dict[tuple[int, str], int] = {}
        self._child: dict[tuple[int, str], int] = {}
        self._next_ike, self._next_child = count(1), count(1)

    def new_lines(self, fresh: Sequence[Sequence[str]]) -> list[str]:
        """``fresh[i]``: the lines charon ``i`` logged since the last call; all of them as
        one charon's log."""
        merged = []
        for index, lines in enumerate(fresh):
            kept = []
            for line in lines:
                if _STARTED in line:
                    self._forget(index)
                if index == 0 or not _DAEMON.match(line):
                    kept.append(self._renumbered(index, line))
            merged.append(kept)
        return list(heapq.merge(*merged, key=_when))

    def _renumbered(self, charon: int, line: str) -> str:
        def ike(found: re.Match[str]) -> str:
            return _swap(found, _number(self._ike, self._next_ike, (charon, found["id"])))

        def child(found: re.Match[str]) -> str:
            return _swap(found, _number(self._child, self._next_child, (charon, found["id"])))

        return _CHILD_NAMED.sub(child, _IKE_NAMED.sub(ike, _IKE_CONTEXT.sub(ike, line)))

    def _forget(self, charon: int) -> None:
        for table in (self._ike, self._child):
            for key in [key for key in table if key[0] == charon]:
                del table[key]


def _number(table: dict[tuple[int, str], int], fresh: count[int], key: tuple[int, str]) -> int:
    """The merged log's id for charon ``key[0]``'s id ``key[1]``: a fresh one when first seen."""
    if key not in table:
        table[key] = next(fresh)
    return table[key]


def _swap(found: re.Match[str], number: int) -> str:
    """``found``'s text with its ``id`` group replaced by ``number``."""
    text, offset = found.group(), found.start()
    return text[: found.start("id") - offset] + str(number) + text[found.end("id") - offset :]


def _when(line: str) -> tuple[int, int, str]:
    match = _LINE.match(line)
    if match is None:
        return (-1, 0, "")
    return (_MONTHS.get(match["month"], -1), int(match["day"]), match["time"])
