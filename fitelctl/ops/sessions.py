"""``sessions``: the SSH sessions of a site's device (``show ssh``), and ending one.

Which session is fitelctl's own?  ``show ssh`` marks none of its rows as "you"
(FX201 capture in takamitsu-iida/pyats-fitelnet: Connection, Version, Encryption,
State, Username, Line, nothing more), and the device prints no command that names
the caller's line.  So fitelctl tells its session apart by appearance: a first
session lists the sessions, a second one opens and lists them again while the first
is still open, then the first closes.  The rows the second listing has and the
first had not are the second session, ours (keyed by connection number, username
and line, which stay fixed while a connection lives).  If someone else connects in
that instant, two rows are new: both count as ours, so fitelctl would rather refuse
to end a stranger's session than end its own.  If no row is new (a device that
lists sessions late), none is known to be ours and ``--disconnect`` refuses.
The final listing waits (up to ``FIRST_GONE_WAIT`` seconds) for the first session's
row to go; a device slower than that still shows it, as a foreign session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from fitelctl.errors import FitelctlError
from fitelctl.fitelnet.drivers import DeviceDriver
from fitelctl.inventory import Inventory
from fitelctl.ops.connect import ConnectOptions, connect_site
from fitelctl.parsing import parse_output


@dataclass(frozen=True)
class SshSession:
    id: int
    version: str
    encryption: str
    state: str
    username: str
    line: str
    ours: bool

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SessionList:
    site: str
    sessions: list[SshSession]
    #: False when fitelctl could not tell which row is its own session
    ours_known: bool

    def to_json(self) -> dict[str, object]:
        return {"sessions": [s.to_json() for s in self.sessions]}


_Key = tuple[int, str, str]
FIRST_GONE_WAIT = 2.0


def _rows(device: DeviceDriver) -> list[dict[str, object]]:
    return parse_output("show ssh", device.show("show ssh"))


def _key(row: dict[str, object]) -> _Key:
    return (int(str(row["connection"])), str(row["username"] or ""), str(row["line"] or ""))


def _sessions(rows: list[dict[str, object]], ours: set[_Key]) -> list[SshSession]:
    return [
        SshSession(
            id=_key(row)[0],
            version=str(row["version"] or ""),
            encryption=str(row["encryption"] or ""),
            state=str(row["state"] or ""),
            username=_key(row)[1],
            line=_key(row)[2],
            ours=_key(row) in ours,
        )
        for row in rows
    ]


class _Ours:
    """A session of ours whose own row in ``show ssh`` is known (see module doc)."""

    def __init__(self, inventory: Inventory, site: str, options: ConnectOptions) -> None:
        self.site = site
        with connect_site(inventory, site, options) as first:
            self.before = {_key(row) for row in _rows(first)}
            self.device = connect_site(inventory, site, options)
            try:
                self.keys = {_key(row) for row in _rows(self.device)} - self.before
            except BaseException:
                self.device.close()
                raise

    def listing(self) -> SessionList:
        """The sessions now, once the first session's row is gone (or the wait ran out)."""
        give_up = time.monotonic() + FIRST_GONE_WAIT
        while True:
            rows = _rows(self.device)
            if self.before - {_key(row) for row in rows} or time.monotonic() > give_up:
                return SessionList(self.site, _sessions(rows, self.keys), bool(self.keys))
            time.sleep(0.1)


def list_sessions(inventory: Inventory, site: str, options: ConnectOptions) -> SessionList:
    ours = _Ours(inventory, site, options)
    with ours.device:
        return ours.listing()


def disconnect_session(
    inventory: Inventory,
    site: str,
    number: int,
    options: ConnectOptions,
    *,
    confirm: Callable[[SshSession], bool] | None = None,
) -> SessionList:
    """End connection ``number`` on the device; the sessions left afterwards.

    ``confirm(session) -> bool`` is asked once the session is known to exist and not
    to be ours; False ends nothing (FitelctlError "not confirmed").
    """
    ours = _Ours(inventory, site, options)
    with ours.device as device:
        before = ours.listing()
        found = next((s for s in before.sessions if s.id == number), None)
        if found is None:
            listed = ", ".join(str(s.id) for s in before.sessions) or "none"
            raise FitelctlError(
                f"{site}: no SSH session {number} on the device (sessions now: {listed}); "
                f"see `fitelctl sessions {site}`"
            )
        if found.ours or not before.ours_known:
            why = (
                "it is the session fitelctl itself is using"
                if found.ours
                else "fitelctl could not tell which session is its own"
            )
            raise FitelctlError(f"{site}: refusing to end SSH session {number}: {why}")
        if confirm is not None and not confirm(found):
            raise FitelctlError(f"{site}: not confirmed; session {number} was not ended")
        device.disconnect_ssh(number)
        return ours.listing()
